//! The embedded MQTT broker: rmqtt, in-process, checking every client against the hub's
//! device registry and every topic against the protocol's rules.
//!
//! Why rmqtt: it is the one maintained Rust broker whose hooks call our code for
//! authentication and for publish and subscribe ACLs (rumqttd 0.20 authenticates but has no
//! per-topic ACLs; its issue #1005 is open). It does QoS 1, persistent sessions with a
//! bounded queue per session, retained messages and last wills. The cost is weight (about
//! 230 crates) and a 0.x API, so it is pinned. docs/ARCHITECTURE.md has the comparison.
//!
//! Rules: a meter logs in with its id as username and client id and its device token as
//! password; it may publish only to its own meter topics and subscribe only to its own
//! `cmd` and `stored` topics, spelled out. rmqtt does not run the publish ACL on a last
//! will, so the will topic is checked at login. The hub logs in with a secret made fresh
//! at every start and has full rights.

use async_trait::async_trait;
use joule_protocol::{MeterId, TopicKind, Topics};
use joule_store::Store;
use joule_store::tokens;
use rmqtt::codec::v5::SubscribeAckReason;
use rmqtt::context::ServerContext;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType, Type};
use rmqtt::net::Builder;
use rmqtt::retain::{DefaultRetainStorage, RetainStorage};
use rmqtt::server::MqttServer;
use rmqtt::types::{
    AuthResult, LastWill, PublishAclResult, Retain, SubscribeAclResult, TopicFilter, TopicName,
};
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Messages queued per session before the oldest is dropped. The hub's own session carries
/// every meter's messages, so this bounds the fleet's unacknowledged backlog in memory
/// (about 400 bytes each); a meter's session only ever holds commands and acks. What is
/// dropped is not lost: meters keep every message until the hub acknowledges storing it.
const SESSION_QUEUE: usize = 100_000;
/// Retained messages kept at most (one status per meter, so this bounds the fleet size).
const MAX_RETAINED: isize = 1_000_000;

/// Who a login is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// The hub itself: every topic.
    Hub,
    /// A meter: its own topics only.
    Meter(MeterId),
    /// Nobody we know.
    Refused,
}

/// How the broker checks credentials.
#[async_trait]
pub trait Credentials: Send + Sync + 'static {
    /// Who `username` with `password` is.
    async fn check(&self, username: &str, password: &[u8]) -> Access;
}

/// The hub's credentials: its own per-start secret, and the meters' device tokens.
#[derive(Debug)]
pub struct RegistryCredentials {
    store: Arc<dyn Store>,
    hub_username: String,
    hub_secret: String,
}

impl RegistryCredentials {
    /// Credentials backed by the store's registry, with the hub's own login.
    pub fn new(store: Arc<dyn Store>, hub_username: String, hub_secret: String) -> Self {
        Self {
            store,
            hub_username,
            hub_secret,
        }
    }
}

#[async_trait]
impl Credentials for RegistryCredentials {
    async fn check(&self, username: &str, password: &[u8]) -> Access {
        if username == self.hub_username {
            return if tokens::constant_time_eq(password, self.hub_secret.as_bytes()) {
                Access::Hub
            } else {
                Access::Refused
            };
        }
        let (Ok(meter), Ok(token)) = (MeterId::new(username), std::str::from_utf8(password)) else {
            return Access::Refused;
        };
        match self.store.active_token_hash(&meter).await {
            Ok(Some(hash)) if tokens::verify(token, &hash) => Access::Meter(meter),
            Ok(_) => Access::Refused,
            Err(error) => {
                tracing::error!(%error, "registry lookup failed; refusing the login");
                Access::Refused
            }
        }
    }
}

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
#[error("embedded broker: {0}")]
pub struct BrokerError(String);

/// A running embedded broker; it stops when dropped.
#[derive(Debug)]
pub struct EmbeddedBroker {
    task: JoinHandle<()>,
    local_addr: SocketAddr,
}

impl EmbeddedBroker {
    /// Starts the broker on `listen` (port 0 picks a free one).
    pub async fn start(
        listen: SocketAddr,
        credentials: Arc<dyn Credentials>,
        topics: Topics,
    ) -> Result<Self, BrokerError> {
        let error = |e: rmqtt::Error| BrokerError(e.to_string());
        let scx = ServerContext::new()
            .mqtt_max_sessions(1_000_000)
            .build()
            .await;
        *scx.extends.retain_mut().await = Box::new(BoundedRetain {
            inner: DefaultRetainStorage::new(),
            max: MAX_RETAINED,
        });
        let register = scx.extends.hook_mgr().register();
        let rules = Arc::new(Rules {
            credentials,
            topics,
        });
        for kind in [
            Type::ClientAuthenticate,
            Type::MessagePublishCheckAcl,
            Type::ClientSubscribeCheckAcl,
        ] {
            register
                .add(kind, Box::new(RulesHandler(Arc::clone(&rules))))
                .await;
        }
        register.start().await;
        let listener = Builder::new()
            .name("joule/tcp")
            .laddr(listen)
            // A hub restarted after a crash must get its port back while the dead
            // process's connections linger in TIME_WAIT.
            .reuseaddr(Some(true))
            .allow_anonymous(false)
            .max_inflight(NonZeroU16::new(64).unwrap_or(NonZeroU16::MIN))
            .max_mqueue_len(SESSION_QUEUE)
            .max_packet_size(joule_protocol::MAX_PAYLOAD_BYTES as u32 + 1024)
            .session_expiry_interval(Duration::from_secs(7 * 24 * 3600))
            .max_session_expiry_interval(Duration::from_secs(7 * 24 * 3600))
            .message_expiry_interval(Duration::from_secs(24 * 3600))
            .bind()
            .map_err(error)?
            .tcp()
            .map_err(error)?;
        let local_addr = listener.local_addr().map_err(error)?;
        let server = MqttServer::new(scx).listener(listener).build();
        let task = tokio::spawn(async move {
            if let Err(error) = server.run().await {
                tracing::error!(%error, "embedded broker stopped");
            }
        });
        tracing::info!(%local_addr, "embedded broker listening");
        Ok(Self { task, local_addr })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the hooks need.
struct Rules {
    credentials: Arc<dyn Credentials>,
    topics: Topics,
}

impl Rules {
    fn meter_topic(&self, username: &str, topic: &str, publish: bool) -> bool {
        let Ok(meter) = MeterId::new(username) else {
            return false;
        };
        if publish {
            self.topics.meter_may_publish(&meter, topic)
        } else {
            self.topics.meter_may_subscribe(&meter, topic)
        }
    }
}

struct RulesHandler(Arc<Rules>);

#[async_trait]
impl Handler for RulesHandler {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        let rules = &self.0;
        match param {
            Parameter::ClientAuthenticate(connect) => {
                let username = connect.username().map_or("", |u| u.as_ref());
                let password = connect.password().map_or(&[][..], |p| p.as_ref());
                let result = match rules.credentials.check(username, password).await {
                    Access::Hub => AuthResult::Allow(true, None),
                    Access::Meter(meter) => {
                        let status = rules.topics.topic(&meter, TopicKind::Status);
                        let will_ok = match connect.last_will() {
                            None => true,
                            Some(LastWill::V3(will)) => will.topic == status,
                            Some(LastWill::V5(will)) => will.topic == status,
                        };
                        let client_id: &str = connect.client_id();
                        if client_id == meter.as_str() && will_ok {
                            AuthResult::Allow(false, None)
                        } else {
                            AuthResult::NotAuthorized
                        }
                    }
                    Access::Refused => AuthResult::BadUsernameOrPassword,
                };
                (false, Some(HookResult::AuthResult(result)))
            }
            Parameter::MessagePublishCheckAcl(session, publish) => {
                let username = session.id.username.as_deref().unwrap_or("");
                let result = if rules.meter_topic(username, &publish.topic, true) {
                    PublishAclResult::allow()
                } else {
                    PublishAclResult::rejected(false, None)
                };
                (false, Some(HookResult::PublishAclResult(result)))
            }
            Parameter::ClientSubscribeCheckAcl(session, subscribe) => {
                let username = session.id.username.as_deref().unwrap_or("");
                let result = if rules.meter_topic(username, &subscribe.topic_filter, false) {
                    SubscribeAclResult::new_success(subscribe.opts.qos(), None)
                } else {
                    SubscribeAclResult::new_failure(SubscribeAckReason::NotAuthorized)
                };
                (false, Some(HookResult::SubscribeAclResult(result)))
            }
            _ => (true, acc),
        }
    }
}

/// rmqtt's default retained store keeps nothing; this one keeps up to `max` in memory.
struct BoundedRetain {
    inner: DefaultRetainStorage,
    max: isize,
}

#[async_trait]
impl RetainStorage for BoundedRetain {
    fn enable(&self) -> bool {
        true
    }

    async fn set(
        &self,
        topic: &TopicName,
        retain: Retain,
        ttl: Option<Duration>,
    ) -> rmqtt::Result<()> {
        if !retain.publish.payload.is_empty() && self.inner.count().await >= self.max {
            tracing::warn!("retained message store full; message not retained");
            return Ok(());
        }
        self.inner.set_with_timeout(topic, retain, ttl).await
    }

    async fn get(&self, filter: &TopicFilter) -> rmqtt::Result<Vec<(TopicName, Retain)>> {
        self.inner.get_message(filter).await
    }

    async fn count(&self) -> isize {
        self.inner.count().await
    }

    async fn max(&self) -> isize {
        self.inner.max().await
    }
}
