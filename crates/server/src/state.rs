//! What every handler shares ([`AppState`]), and the two seams that keep handlers free of any
//! key or storage backend: log keys are [`LogKey`]s (any P-256 DER signer) and readiness and
//! metrics ask a [`KeyCustody`]. Start-up (`crate::startup`) fills them with HSM keys and redb
//! files; handler tests with in-memory keys and stores.

use std::fmt;
use std::sync::Arc;

use hallmark_keys::KeyError;
use hallmark_oidc::TokenVerifier;
use metrics_exporter_prometheus::PrometheusHandle;
use p256::ecdsa::DerSignature;
use signature::Signer;

use crate::Settings;
use crate::ca_service::CaService;
use crate::ct::CtLog;
use crate::dev::DevIssuer;
use crate::rekor::RekorLog;
use crate::rekor_v2::RekorV2Log;

/// A log's P-256 signing key: an HSM key in production, `p256::ecdsa::SigningKey` in tests.
pub(crate) type LogKey = Arc<dyn Signer<DerSignature> + Send + Sync>;

/// Where the server's keys live, as readiness and metrics see it.
pub(crate) trait KeyCustody: Send + Sync + 'static {
    /// Whether the keys can sign now. Blocking (for an HSM, a round trip to it).
    ///
    /// # Errors
    /// Why they cannot.
    fn health(&self) -> Result<(), KeyError>;

    /// Records the custody's own metrics (signatures made, sessions in use) with the
    /// `metrics` facade.
    fn record_metrics(&self);
}

/// Everything a request handler needs.
pub struct AppState {
    pub(crate) settings: Settings,
    /// Where the keys live (readiness, metrics).
    pub(crate) custody: Arc<dyn KeyCustody>,
    pub(crate) ct: Arc<CtLog>,
    pub(crate) rekor: Arc<RekorLog>,
    /// The Rekor v2 log, unless `log_v2.enabled` is false.
    pub(crate) rekor_v2: Option<Arc<RekorV2Log>>,
    pub(crate) ca: CaService,
    pub(crate) verifier: TokenVerifier,
    pub(crate) dev_issuer: Option<DevIssuer>,
    /// Whether the CA root key is on a token the server opened (it should not be).
    pub(crate) root_key_reachable: bool,
    /// Renders the metrics of the recorder the binary installed.
    pub(crate) metrics: PrometheusHandle,
    /// Permits for the blocking read path (`crate::reads`).
    pub(crate) reads: tokio::sync::Semaphore,
    /// The timestamp authority, when its certificate exists (`hallmark ca init-tsa`).
    pub(crate) tsa: Option<Arc<crate::tsa::Tsa>>,
    /// With PostgreSQL storage: whether this replica is the logs' sequencer.
    pub(crate) leadership: Option<Arc<crate::leadership::Leadership>>,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("public_url", &self.settings.public_url())
            .finish_non_exhaustive()
    }
}
