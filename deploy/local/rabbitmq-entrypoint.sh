#!/bin/sh
# The broker's configuration from the environment (its first user), then the broker in the
# foreground, listening on every interface of the container.
set -eu
: "${RABBITMQ_DEFAULT_USER:?set RABBITMQ_DEFAULT_USER}" "${RABBITMQ_DEFAULT_PASS:?set RABBITMQ_DEFAULT_PASS}"
cat > "$RABBITMQ_CONFIG_FILE" <<CONF
listeners.tcp.default = 5672
management.tcp.port = 15672
default_user = $RABBITMQ_DEFAULT_USER
default_pass = $RABBITMQ_DEFAULT_PASS
CONF
exec rabbitmq-server
