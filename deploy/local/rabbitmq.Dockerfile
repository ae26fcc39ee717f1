# RabbitMQ from Debian's package, for the local run where no registry serves the official
# image (deploy/compose.local.yml). Its management plugin is on, as the official
# -management image has it; RABBITMQ_DEFAULT_USER/PASS name the first user, as there.
FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends rabbitmq-server \
    && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && rabbitmq-plugins enable --offline rabbitmq_management
COPY deploy/local/rabbitmq-entrypoint.sh /usr/local/bin/rabbitmq-entrypoint
ENV RABBITMQ_CONFIG_FILE=/var/lib/rabbitmq/rabbitmq.conf
USER rabbitmq
EXPOSE 5672 15672
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/rabbitmq-entrypoint"]
