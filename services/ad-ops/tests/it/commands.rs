//! Every ad-ops command through the bus against real Samba: happy paths, idempotent repeats,
//! each refusal with its reason, and hostile input that must never widen a search or reach
//! LDAP unescaped.

use detour_contracts::ad_ops::{
    AdFailureKind, AdOpsCommandFailed, FilterAttributeSet, FindUser, MoveUser, MoveUserToDn,
    SetFilterAttribute, UserFound, UserLookup, UserMoved,
};

use detour_contracts::Dn;

use crate::support::Harness;

fn dn(text: &str) -> Dn {
    Dn::parse(text).unwrap()
}

async fn find(harness: &mut Harness, lookup: UserLookup) -> Result<UserFound, AdOpsCommandFailed> {
    let answer = harness.send(FindUser { lookup }).await;
    match answer.message_type.as_str() {
        "user-found" => Ok(answer.decode::<UserFound>()),
        _ => Err(answer.decode::<AdOpsCommandFailed>()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_is_found_by_upn_sam_or_guid_with_the_same_snapshot() {
    let mut harness = Harness::start("ad-find").await;
    let staff = harness.ou.child("Staff").await.unwrap();
    let sam = harness.sam("ada");
    let created = harness
        .create_user(
            &format!("Ada {}", harness.tag),
            &sam,
            &staff,
            &[
                "SMTP:ada@contoso.com",
                "smtp:ada@contoso.mail.onmicrosoft.com",
            ],
        )
        .await;

    let by_upn = find(
        &mut harness,
        UserLookup::UserPrincipalName(format!("{sam}@contoso.com")),
    )
    .await
    .unwrap()
    .snapshot;
    assert!(by_upn.distinguished_name.same_as(&dn(&created)));
    assert_eq!(by_upn.sam_account_name, sam);
    assert_eq!(by_upn.proxy_addresses.len(), 2);
    assert_eq!(by_upn.admin_description, None);
    let by_sam = find(&mut harness, UserLookup::SamAccountName(sam.clone()))
        .await
        .unwrap()
        .snapshot;
    let by_guid = find(&mut harness, UserLookup::ObjectGuid(by_upn.object_guid))
        .await
        .unwrap()
        .snapshot;
    assert_eq!(by_sam, by_upn);
    assert_eq!(by_guid, by_upn);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_copy_of_a_fenced_move_after_the_user_came_back_moves_nothing() {
    let mut harness = Harness::start("ad-fence").await;
    let staff = harness.ou.child("Staff").await.unwrap();
    let parked = harness.ou.child("Parked").await.unwrap();
    let sam = harness.sam("cyd");
    let original = harness
        .create_user(&format!("Cyd {}", harness.tag), &sam, &staff, &[])
        .await;
    let snapshot = find(&mut harness, UserLookup::SamAccountName(sam.clone()))
        .await
        .unwrap()
        .snapshot;
    let descope = MoveUser {
        object_guid: snapshot.object_guid,
        target_ou: dn(&parked),
        only_if_usn_changed: Some(snapshot.usn_changed),
    };
    assert!(
        !harness
            .send(descope.clone())
            .await
            .decode::<UserMoved>()
            .already_there
    );
    // A repeat while the user is parked is "already there", not stale.
    assert!(
        harness
            .send(descope.clone())
            .await
            .decode::<UserMoved>()
            .already_there
    );
    harness
        .send(MoveUserToDn {
            object_guid: snapshot.object_guid,
            distinguished_name: dn(&original),
        })
        .await
        .decode::<UserMoved>();
    // The same descope delivered late, after the round trip brought the user back.
    let late = harness.send(descope).await.decode::<AdOpsCommandFailed>();
    assert_eq!(late.kind, AdFailureKind::Stale, "{}", late.reason);
    let now = find(&mut harness, UserLookup::ObjectGuid(snapshot.object_guid))
        .await
        .unwrap()
        .snapshot;
    assert!(
        now.distinguished_name.same_as(&dn(&original)),
        "still back where it belongs: {}",
        now.distinguished_name
    );
    assert!(now.usn_changed > snapshot.usn_changed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_and_moves_back_are_idempotent() {
    let mut harness = Harness::start("ad-move").await;
    let staff = harness.ou.child("Staff").await.unwrap();
    let parked = harness.ou.child("Parked").await.unwrap();
    let sam = harness.sam("bob");
    let original = harness
        .create_user(&format!("Bob {}", harness.tag), &sam, &staff, &[])
        .await;
    let guid = find(&mut harness, UserLookup::SamAccountName(sam.clone()))
        .await
        .unwrap()
        .snapshot
        .object_guid;

    let out = harness
        .send(MoveUser {
            object_guid: guid,
            target_ou: dn(&parked),
            only_if_usn_changed: None,
        })
        .await
        .decode::<UserMoved>();
    assert!(!out.already_there);
    assert!(out.to.parent_dn().is_some_and(|p| p.same_as(&dn(&parked))));
    let again = harness
        .send(MoveUser {
            object_guid: guid,
            target_ou: dn(&parked),
            only_if_usn_changed: None,
        })
        .await
        .decode::<UserMoved>();
    assert!(again.already_there, "a repeat changes nothing");
    let found = find(&mut harness, UserLookup::ObjectGuid(guid))
        .await
        .unwrap()
        .snapshot;
    assert!(
        found
            .distinguished_name
            .parent_dn()
            .is_some_and(|p| p.same_as(&dn(&parked)))
    );

    let back = harness
        .send(MoveUserToDn {
            object_guid: guid,
            distinguished_name: dn(&original),
        })
        .await
        .decode::<UserMoved>();
    assert!(!back.already_there);
    let again = harness
        .send(MoveUserToDn {
            object_guid: guid,
            distinguished_name: dn(&original),
        })
        .await
        .decode::<UserMoved>();
    assert!(again.already_there);
    let found = find(&mut harness, UserLookup::ObjectGuid(guid))
        .await
        .unwrap()
        .snapshot;
    assert!(found.distinguished_name.same_as(&dn(&original)));
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_say_what_is_wrong() {
    let mut harness = Harness::start("ad-refuse").await;
    let staff = harness.ou.child("Staff").await.unwrap();
    let parked = harness.ou.child("Parked").await.unwrap();
    let cn = format!("Cyd {}", harness.tag);
    let sam = harness.sam("cyd");
    harness.create_user(&cn, &sam, &staff, &[]).await;
    // Someone else already has that name in the target OU.
    harness
        .create_user(&cn, &harness.sam("cyd2"), &parked, &[])
        .await;
    let guid = find(&mut harness, UserLookup::SamAccountName(sam))
        .await
        .unwrap()
        .snapshot
        .object_guid;

    let failed = |answer: detour_testkit::Answer| answer.decode::<AdOpsCommandFailed>();
    let collision = failed(
        harness
            .send(MoveUser {
                object_guid: guid,
                target_ou: dn(&parked),
                only_if_usn_changed: None,
            })
            .await,
    );
    assert_eq!(collision.kind, AdFailureKind::Conflict);
    assert!(
        collision.reason.contains("already named"),
        "{}",
        collision.reason
    );

    let missing = failed(
        harness
            .send(MoveUser {
                object_guid: guid,
                target_ou: dn(&format!("OU=Nowhere,{}", harness.ou.dn)),
                only_if_usn_changed: None,
            })
            .await,
    );
    assert_eq!(missing.kind, AdFailureKind::NotFound);
    assert!(
        missing.reason.contains("does not exist"),
        "{}",
        missing.reason
    );

    let unknown = failed(
        harness
            .send(MoveUser {
                object_guid: uuid::Uuid::new_v4(),
                target_ou: dn(&parked),
                only_if_usn_changed: None,
            })
            .await,
    );
    assert_eq!(unknown.kind, AdFailureKind::NotFound);

    // A malformed DN cannot be sent at all: it is refused when the command is read.
    let no_parent = failed(
        harness
            .send(MoveUserToDn {
                object_guid: guid,
                distinguished_name: dn("CN=alone"),
            })
            .await,
    );
    assert_eq!(no_parent.kind, AdFailureKind::Invalid);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_lookups_never_widen_the_search() {
    let mut harness = Harness::start("ad-hostile").await;
    let staff = harness.ou.child("Staff").await.unwrap();
    harness
        .create_user(
            &format!("Dee {}", harness.tag),
            &harness.sam("dee"),
            &staff,
            &[],
        )
        .await;
    for upn in [
        "*)(objectClass=*@contoso.com",
        "*@contoso.com",
        "dee*@contoso.com",
    ] {
        let refused = find(&mut harness, UserLookup::UserPrincipalName(upn.into()))
            .await
            .unwrap_err();
        assert_eq!(
            refused.kind,
            AdFailureKind::NotFound,
            "{upn} must match literally: {}",
            refused.reason
        );
    }
    for sam in ["*)(objectClass=*", "nul\u{0}", &"x".repeat(10_000)] {
        let refused = find(&mut harness, UserLookup::SamAccountName(sam.into()))
            .await
            .unwrap_err();
        assert_eq!(refused.kind, AdFailureKind::Invalid);
    }
    let long = find(
        &mut harness,
        UserLookup::UserPrincipalName(format!("{}@contoso.com", "a".repeat(10_000))),
    )
    .await
    .unwrap_err();
    assert_eq!(long.kind, AdFailureKind::Invalid);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_full_of_dn_metacharacters_and_unicode_move_there_and_back() {
    let mut harness = Harness::start("ad-escape").await;
    let staff = harness.ou.child("Staff").await.unwrap();
    let parked = harness.ou.child("Parked").await.unwrap();
    for (cn, sam) in [
        (
            format!(r#"Smith\, John \"Jr\" \<x\>\; \+\= {}"#, harness.tag),
            harness.sam("smith"),
        ),
        (
            format!(r"\#hash \ lead {}", harness.tag),
            harness.sam("hash"),
        ),
        (
            format!("Zoë Ångström 日本 {}", harness.tag),
            harness.sam("zoe"),
        ),
    ] {
        harness.create_user(&cn, &sam, &staff, &[]).await;
        let snapshot = find(&mut harness, UserLookup::SamAccountName(sam.clone()))
            .await
            .unwrap()
            .snapshot;
        let original = snapshot.distinguished_name.clone();
        let out = harness
            .send(MoveUser {
                object_guid: snapshot.object_guid,
                target_ou: dn(&parked),
                only_if_usn_changed: None,
            })
            .await;
        assert_eq!(
            out.message_type,
            "user-moved",
            "{cn}: {}",
            String::from_utf8_lossy(&out.body)
        );
        let back = harness
            .send(MoveUserToDn {
                object_guid: snapshot.object_guid,
                distinguished_name: original.clone(),
            })
            .await;
        assert_eq!(
            back.message_type,
            "user-moved",
            "{cn}: {}",
            String::from_utf8_lossy(&back.body)
        );
        let found = find(&mut harness, UserLookup::ObjectGuid(snapshot.object_guid))
            .await
            .unwrap()
            .snapshot;
        assert_eq!(found.distinguished_name, original, "{cn}");
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_filter_attribute_is_set_and_cleared() {
    let mut harness = Harness::start("ad-filter").await;
    let staff = harness.ou.child("Staff").await.unwrap();
    let sam = harness.sam("eve");
    harness
        .create_user(&format!("Eve {}", harness.tag), &sam, &staff, &[])
        .await;
    let guid = find(&mut harness, UserLookup::SamAccountName(sam))
        .await
        .unwrap()
        .snapshot
        .object_guid;

    let set = harness
        .send(SetFilterAttribute {
            object_guid: guid,
            value: Some("NoSync-detour".into()),
        })
        .await;
    let set = set.decode::<FilterAttributeSet>();
    assert_eq!(
        (set.attribute.as_str(), set.value.as_deref()),
        ("adminDescription", Some("NoSync-detour"))
    );
    let snapshot = find(&mut harness, UserLookup::ObjectGuid(guid))
        .await
        .unwrap()
        .snapshot;
    assert_eq!(snapshot.admin_description.as_deref(), Some("NoSync-detour"));

    for _ in 0..2 {
        let cleared = harness
            .send(SetFilterAttribute {
                object_guid: guid,
                value: None,
            })
            .await;
        assert_eq!(
            cleared.decode::<FilterAttributeSet>().value,
            None,
            "clearing twice is fine"
        );
    }
    let snapshot = find(&mut harness, UserLookup::ObjectGuid(guid))
        .await
        .unwrap()
        .snapshot;
    assert_eq!(snapshot.admin_description, None);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_sent_while_the_dc_is_down_is_answered_once_it_is_back() {
    let stack_url = detour_testkit::Stack::load()
        .unwrap()
        .get("DETOUR_LDAP_URL")
        .unwrap()
        .to_owned();
    let port: u16 = stack_url.rsplit(':').next().unwrap().parse().unwrap();
    let proxy = detour_testkit::ChaosProxy::start(([127, 0, 0, 1], port).into())
        .await
        .unwrap();
    let url = format!("ldaps://127.0.0.1:{}", proxy.addr.port());
    let mut harness = Harness::start_with(
        "ad-restart",
        &[
            ("DETOUR__LDAP__URL", url.as_str()),
            ("DETOUR__LDAP__OPERATION_TIMEOUT_MS", "2000"),
            ("DETOUR__AMQP__RETRY_DELAYS_MS", "200,400"),
            ("DETOUR__AMQP__MAX_ATTEMPTS", "30"),
        ],
    )
    .await;
    let staff = harness.ou.child("Staff").await.unwrap();
    let sam = harness.sam("fay");
    harness
        .create_user(&format!("Fay {}", harness.tag), &sam, &staff, &[])
        .await;
    let first = find(&mut harness, UserLookup::SamAccountName(sam.clone()))
        .await
        .unwrap()
        .snapshot;

    // The DC goes away under an open connection, and comes back a moment later.
    proxy.cut();
    let restore = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        proxy.restore();
        proxy
    });
    let again = find(&mut harness, UserLookup::SamAccountName(sam))
        .await
        .unwrap()
        .snapshot;
    assert_eq!(
        again, first,
        "answered after the reconnect, with the same snapshot"
    );
    drop(restore.await.unwrap());
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_on_the_plain_port_works_and_is_verified_too() {
    let mut harness = Harness::start_with(
        "ad-starttls",
        &[("DETOUR__LDAP__URL", "ldap://127.0.0.1:389")],
    )
    .await;
    let staff = harness.ou.child("Staff").await.unwrap();
    let sam = harness.sam("gil");
    harness
        .create_user(&format!("Gil {}", harness.tag), &sam, &staff, &[])
        .await;
    let found = find(&mut harness, UserLookup::SamAccountName(sam))
        .await
        .unwrap();
    assert!(found.snapshot.distinguished_name.is_within(&dn(&staff)));
    harness.stop().await;
}
