//! The bus against a real RabbitMQ, each test in its own vhost: confirmed publish and
//! consume, unroutable publishes, retry and dead-lettering, malformed messages, forced
//! disconnects mid-stream, a cut link under publishes, and trace context across a hop.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
mod trace;

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use detour_bus::{
    ATTEMPT_HEADER, ERROR_HEADER, ERROR_KIND_HEADER, ORIGINAL_ROUTING_KEY_HEADER, Outcome,
    Outgoing, PublishError,
};
use detour_contracts::{COMMANDS_EXCHANGE, Envelope, Ping, Service};
use detour_testkit::{TestVhost, eventually};
use support::{Harness, header_str, header_u32};

#[tokio::test]
async fn a_confirmed_publish_is_consumed_once_and_decodes() {
    let harness = Harness::start("publish").await;
    let received = harness.collect_handled();
    let ping = Envelope::new(Ping {
        target: Service::AdOps,
    });
    harness.publisher.publish(&ping).await.unwrap();

    let got = eventually(Duration::from_secs(10), "the ping", || async {
        received.lock().unwrap().first().cloned()
    })
    .await;
    let decoded = got.decode::<Ping>().unwrap();
    assert_eq!(decoded, ping);
    assert_eq!(got.routing_key, "ad-ops.ping");
    assert_eq!(got.attempt, 1);
    harness.stop().await;
}

#[tokio::test]
async fn a_queue_for_one_consumer_at_a_time_is_declared_so() {
    let vhost = TestVhost::create("single-active").await.unwrap();
    let settings = support::settings(&vhost);
    let mut single = detour_bus::QueueSpec::new("sync-trigger");
    single.single_active_consumer = true;
    let shared = detour_bus::QueueSpec::new("ad-ops");
    for queue in [single, shared] {
        detour_bus::Consumer::new(settings.clone(), queue, "test-consumer")
            .declare()
            .await
            .unwrap();
    }
    let single = vhost.queue_arguments("sync-trigger").await.unwrap();
    assert_eq!(single["x-single-active-consumer"], true, "{single}");
    assert_eq!(single["x-queue-type"], "quorum", "{single}");
    let shared = vhost.queue_arguments("ad-ops").await.unwrap();
    assert!(shared.get("x-single-active-consumer").is_none(), "{shared}");
}

#[tokio::test]
async fn a_publish_nobody_is_bound_to_is_an_error_not_silence() {
    let vhost = TestVhost::create("unroutable").await.unwrap();
    let publisher = detour_bus::Publisher::new(support::settings(&vhost), "test-publisher");
    let err = publisher
        .publish(&Envelope::new(Ping {
            target: Service::MailboxOps,
        }))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PublishError::Unroutable { ref routing_key, .. } if routing_key == "mailbox-ops.ping"),
        "{err}"
    );
}

#[tokio::test]
async fn a_retried_message_comes_back_and_then_succeeds() {
    let harness = Harness::start("retry-ok").await;
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let seen = attempts.clone();
    harness.consume(move |incoming| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(incoming.attempt);
            if incoming.attempt == 1 {
                Outcome::Retry("directory busy".into())
            } else {
                Outcome::Handled
            }
        }
    });
    harness
        .publisher
        .publish(&Envelope::new(Ping {
            target: Service::AdOps,
        }))
        .await
        .unwrap();
    eventually(Duration::from_secs(10), "the second attempt", || async {
        (attempts.lock().unwrap().as_slice() == [1, 2]).then_some(())
    })
    .await;
    assert!(harness.dead_letters().await.is_empty());
    harness.stop().await;
}

#[tokio::test]
async fn retries_stop_at_the_limit_and_the_message_is_dead_lettered_with_its_error() {
    let harness = Harness::start("retry-limit").await;
    let calls = harness.count_calls(Outcome::Retry("upstream 503".into()));
    let ping = Envelope::new(Ping {
        target: Service::AdOps,
    });
    harness.publisher.publish(&ping).await.unwrap();

    let dead = eventually(Duration::from_secs(15), "a dead letter", || async {
        let dead = harness.dead_letters().await;
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    assert_eq!(dead.len(), 1);
    let (headers, body) = &dead[0];
    assert_eq!(
        header_str(headers, ERROR_KIND_HEADER).as_deref(),
        Some("retries-exhausted")
    );
    assert_eq!(
        header_str(headers, ERROR_HEADER).as_deref(),
        Some("upstream 503")
    );
    assert_eq!(
        header_u32(headers, ATTEMPT_HEADER),
        Some(support::MAX_ATTEMPTS)
    );
    assert_eq!(
        header_str(headers, ORIGINAL_ROUTING_KEY_HEADER).as_deref(),
        Some("ad-ops.ping")
    );
    assert_eq!(Envelope::<Ping>::from_json(body).unwrap(), ping);
    assert_eq!(*calls.lock().unwrap(), support::MAX_ATTEMPTS);
    harness.stop().await;
}

#[tokio::test]
async fn a_rejected_message_is_dead_lettered_at_once() {
    let harness = Harness::start("reject").await;
    let calls = harness.count_calls(Outcome::Reject("no such user".into()));
    harness
        .publisher
        .publish(&Envelope::new(Ping {
            target: Service::AdOps,
        }))
        .await
        .unwrap();
    let dead = eventually(Duration::from_secs(10), "a dead letter", || async {
        let dead = harness.dead_letters().await;
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    assert_eq!(
        header_str(&dead[0].0, ERROR_KIND_HEADER).as_deref(),
        Some("rejected")
    );
    assert_eq!(header_u32(&dead[0].0, ATTEMPT_HEADER), Some(1));
    assert_eq!(*calls.lock().unwrap(), 1);
    harness.stop().await;
}

#[tokio::test]
async fn malformed_messages_are_dead_lettered_and_the_consumer_keeps_going() {
    let harness = Harness::start("malformed").await;
    let handled = harness.collect_decoded_pings();
    for body in [
        &b"not json at all"[..],
        br#"{"type":"ping","version":1,"payload":{"target":"nowhere"}}"#,
    ] {
        harness
            .publisher
            .publish_outgoing(Outgoing {
                exchange: COMMANDS_EXCHANGE,
                routing_key: "ad-ops.ping",
                body,
                message_id: "bad",
                message_type: "ping",
                headers: Vec::new(),
            })
            .await
            .unwrap();
    }
    let good = Envelope::new(Ping {
        target: Service::AdOps,
    });
    harness.publisher.publish(&good).await.unwrap();

    eventually(Duration::from_secs(10), "the good ping", || async {
        handled
            .lock()
            .unwrap()
            .contains(&good.message_id.to_string())
            .then_some(())
    })
    .await;
    let dead = eventually(Duration::from_secs(10), "two dead letters", || async {
        let mut all = Vec::new();
        while all.len() < 2 {
            let batch = harness.dead_letters().await;
            if batch.is_empty() {
                break;
            }
            all.extend(batch);
        }
        (all.len() == 2).then_some(all)
    })
    .await;
    for (headers, _) in &dead {
        assert_eq!(
            header_str(headers, ERROR_KIND_HEADER).as_deref(),
            Some("rejected")
        );
        assert!(
            header_str(headers, ERROR_HEADER)
                .unwrap()
                .contains("not a Detour envelope")
        );
    }
    harness.stop().await;
}

#[tokio::test]
async fn a_lost_connection_under_a_handler_that_never_returns_is_noticed_and_recovered() {
    let harness = Harness::start("wedged").await;
    let calls = harness.hang_on_the_first_call();
    harness.publish_ping().await;
    eventually(Duration::from_secs(10), "the first call", || async {
        (calls.load(std::sync::atomic::Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    assert!(harness.ready());
    eventually(Duration::from_secs(15), "the connection to cut", || async {
        (harness.vhost.close_all_connections().await.unwrap() >= 1).then_some(())
    })
    .await;
    // The loop notices, drops what it holds, reconnects, and gets the delivery back.
    eventually(Duration::from_secs(20), "the delivery again", || async {
        (calls.load(std::sync::atomic::Ordering::SeqCst) >= 2).then_some(())
    })
    .await;
    eventually(Duration::from_secs(10), "ready again", || async {
        harness.ready().then_some(())
    })
    .await;
    harness.stop().await;
}

#[tokio::test]
async fn a_handler_that_never_returns_is_abandoned_at_its_timeout_and_retried() {
    let harness = Harness::start_with("hung", |settings| settings.handler_timeout_ms = 300).await;
    let calls = harness.hang_on_the_first_call();
    harness.publish_ping().await;
    eventually(
        Duration::from_secs(10),
        "the retry after the timeout",
        || async { (calls.load(std::sync::atomic::Ordering::SeqCst) == 2).then_some(()) },
    )
    .await;
    assert!(
        harness.dead_letters().await.is_empty(),
        "handled on the retry"
    );
    harness.stop().await;
}

#[tokio::test]
async fn after_forced_disconnects_mid_stream_nothing_is_lost() {
    let harness = Harness::start("disconnect").await;
    let handled = harness.collect_decoded_pings();
    // Publish until both cuts have happened, then a tail of 50 more: the cuts land mid-stream
    // however long the broker takes to list the connections.
    let cuts_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publisher = harness.publisher.clone();
    let done = cuts_done.clone();
    let sent = tokio::spawn(async move {
        let mut ids = HashSet::new();
        let mut tail = 0;
        while tail < 50 {
            let ping = Envelope::new(Ping {
                target: Service::AdOps,
            });
            publisher.publish(&ping).await.unwrap();
            ids.insert(ping.message_id.to_string());
            if done.load(std::sync::atomic::Ordering::SeqCst) {
                tail += 1;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        ids
    });
    // The management API lists a new connection only after a short lag: poll until cut.
    for _ in 0..2 {
        eventually(
            Duration::from_secs(15),
            "open connections to cut",
            || async {
                let closed = harness.vhost.close_all_connections().await.unwrap();
                (closed >= 1).then_some(())
            },
        )
        .await;
    }
    cuts_done.store(true, std::sync::atomic::Ordering::SeqCst);
    let sent = sent.await.unwrap();
    eventually(
        Duration::from_secs(30),
        "every message after the disconnects",
        || async {
            let got: HashSet<String> = handled.lock().unwrap().iter().cloned().collect();
            sent.is_subset(&got).then_some(())
        },
    )
    .await;
    harness.stop().await;
}

/// A link cut under publishes (every open connection dropped, new ones refused, as
/// `ChaosProxy` does): those in flight return, later ones fail at their timeout, and the
/// first after the link is back is confirmed.
#[tokio::test]
async fn publishes_return_when_the_link_drops_and_while_it_is_refused_then_recover() {
    let vhost = TestVhost::create("refused").await.unwrap();
    let target = tokio::net::lookup_host((vhost.host.as_str(), vhost.port))
        .await
        .unwrap()
        .find(std::net::SocketAddr::is_ipv4)
        .unwrap();
    let proxy = detour_testkit::ChaosProxy::start(target).await.unwrap();
    let mut settings = support::settings(&vhost);
    settings.host = "127.0.0.1".into();
    settings.port = proxy.addr.port();
    settings.publish_timeout_ms = 2000;
    let consumer = detour_bus::Consumer::new(
        settings.clone(),
        detour_bus::QueueSpec::new("ad-ops").bind(COMMANDS_EXCHANGE, "ad-ops.#"),
        "test-consumer",
    );
    consumer.declare().await.unwrap();
    let publisher = detour_bus::Publisher::new(settings, "test-publisher");
    fn ping() -> Envelope<Ping> {
        Envelope::new(Ping {
            target: Service::AdOps,
        })
    }
    publisher.publish(&ping()).await.unwrap();
    // Publishes in flight when the link drops.
    let in_flight: Vec<_> = (0..200)
        .map(|_| {
            let publisher = publisher.clone();
            tokio::spawn(async move {
                tokio::time::timeout(Duration::from_secs(20), publisher.publish(&ping())).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    proxy.cut();
    for task in in_flight {
        task.await
            .unwrap()
            .expect("a publish in flight never returned after the link dropped")
            .ok();
    }
    for _ in 0..5 {
        let outcome = tokio::time::timeout(Duration::from_secs(20), publisher.publish(&ping()))
            .await
            .expect("a publish never returned while the broker refused connections");
        assert!(
            matches!(outcome, Err(PublishError::Unavailable { .. })),
            "{outcome:?}"
        );
    }
    proxy.restore();
    tokio::time::timeout(Duration::from_secs(20), publisher.publish(&ping()))
        .await
        .expect("no publish after the broker came back")
        .unwrap();
}
