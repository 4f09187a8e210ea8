//! The updater: what an application builds once from a [`Profile`] and calls to keep its
//! sandbox image current and proven. Its flows live in [`crate::flows`] and
//! [`crate::archive`], one file each; this file holds what they share: construction, the
//! adapters, the lock, the floor.

use std::fmt;
use std::sync::{Arc, RwLock};

use latch_decide::Trust;
use latch_oci::Reference;
use latch_registry::{Client, ClientOptions};
use latch_runtime::Runtime;
use latch_store::Store;

use crate::error::{Error, Result};
use crate::profile::Profile;
use crate::trust::rotation::InForce;

/// Keeps one application's image current. Built from a [`Profile`].
#[derive(Debug)]
pub struct Updater {
    pub(crate) profile: Profile,
    /// The trust in force: the profile's, or a key rotation's newer version (replaced
    /// when `check` or `upgrade` follows a newer one).
    in_force: RwLock<InForce>,
    pub(crate) client: Client,
    pub(crate) runtime: Runtime,
    pub(crate) store: Store,
    on_warning: WarningSink,
}

/// What an application does with a warning (see [`Updater::on_warning`]).
type WarningFn = dyn Fn(&str) + Send + Sync;

/// Where each warning goes the moment it arises.
#[derive(Clone, Default)]
struct WarningSink(Option<Arc<WarningFn>>);

impl fmt::Debug for WarningSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Some(..)" } else { "None" })
    }
}

impl Updater {
    /// An updater for `profile`, with registry options from the environment
    /// (`LATCH_INSECURE_REGISTRIES`, proxies, credentials).
    pub fn new(profile: Profile) -> Result<Updater> {
        Updater::with_client_options(profile, ClientOptions::from_env())
    }

    /// An updater with explicit registry options.
    pub fn with_client_options(profile: Profile, mut opts: ClientOptions) -> Result<Updater> {
        if opts.auth_cache.is_none() {
            // Tokens kept between runs: an unchanged check is then one request.
            opts.auth_cache = Some(profile.data_dir.join("latch").join("auth-cache.json"));
        }
        let client = Client::new(opts)?;
        let runtime = Runtime::parse(&profile.runtime)?;
        let store = Store::new(&profile.data_dir);
        let in_force = RwLock::new(InForce::load(&profile, &store)?);
        Ok(Updater {
            profile,
            in_force,
            client,
            runtime,
            store,
            on_warning: WarningSink::default(),
        })
    }

    /// Calls `f` with each warning the moment it arises: a Sigstore root that could not be
    /// refreshed, an interrupted upgrade finished, a rollback forced, an image held, …
    /// Reports still carry their warnings; this is for the ones that come before a
    /// failure, which has no report: an application shows them beside the error (the
    /// command line prints them on stderr at once, and adds them to its error document).
    pub fn on_warning(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Updater {
        self.on_warning = WarningSink(Some(Arc::new(f)));
        self
    }

    /// `warning`, once told to [`Updater::on_warning`]'s callable: every warning a flow
    /// makes goes through here, where it arises.
    pub(crate) fn warned(&self, warning: String) -> String {
        if let Some(f) = &self.on_warning.0 {
            f(&warning);
        }
        warning
    }

    /// Replaces the runtime the profile names (for a runtime with options of its own,
    /// such as podman with a separate storage root).
    pub fn with_runtime(mut self, runtime: Runtime) -> Updater {
        self.runtime = runtime;
        self
    }

    /// The profile in force.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Everything trusted now: keys and identities, and the threshold over both (the
    /// keys of the newest key rotation version followed, when there is one).
    pub fn trust(&self) -> Arc<Trust> {
        self.in_force().trust
    }

    /// The key rotation version in force (1: the profile's keys), when rotations are
    /// followed.
    pub fn trust_version(&self) -> Option<u64> {
        self.in_force().succession.map(|s| s.version())
    }

    /// The trust in force, with the rotation version it came from.
    pub(crate) fn in_force(&self) -> InForce {
        // A panic elsewhere while holding the lock leaves a value that is still whole.
        self.in_force
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set_in_force(&self, next: InForce) {
        *self.in_force.write().unwrap_or_else(|e| e.into_inner()) = next;
    }

    /// The registry client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The signature store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The repository followed (the profile's image without its tag).
    pub(crate) fn repository(&self) -> Reference {
        self.profile.image.repository_only()
    }

    /// The floor below which no log index is accepted: the higher of
    /// `signatures/last_log_index` and the profile's.
    pub fn rollback_floor(&self) -> Result<Option<u64>> {
        let file = self.store.last_log_index()?;
        Ok(match (file, self.profile.rollback_floor) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        })
    }

    /// Takes the store's lock. Waiting (and, without `wait`, the store's short grace)
    /// happens on a blocking thread, so that other tasks of the application (or a second
    /// upgrade in the same process) keep running.
    pub(crate) async fn lock(&self, wait: bool) -> Result<latch_store::StoreLock> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.lock(wait))
            .await
            .map_err(|e| Error::Invalid(format!("waiting for the store lock failed: {e}")))?
            .map_err(Error::from)
    }

    /// The digest Latch recorded as installed for the followed repository.
    pub(crate) fn recorded(&self, state: &latch_store::State) -> Option<latch_oci::Digest> {
        let repository = self.repository().name();
        state
            .installed
            .as_ref()
            .filter(|i| i.repository == repository)
            .map(|i| i.signed_digest.clone())
    }
}
