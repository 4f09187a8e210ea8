//! The PKCS#11 calls (through cryptoki): the module, the token, the login, the objects.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use latch_trust::{KeyAlgorithm, PublicKey};
use x509_cert::der::{Decode as _, Encode as _};

use super::ec::{self, Curve};
use super::uri::{ObjectType, Pkcs11Uri};
use super::{PinSource, Pkcs11Error, TokenSeen};

/// Modules loaded and initialised in this process, by the path given.
static MODULES: Mutex<Vec<(PathBuf, Pkcs11)>> = Mutex::new(Vec::new());

/// Bound on objects of one class read from a token (real tokens hold a handful).
const MAX_OBJECTS: usize = 1024;

/// `CKR_PIN_INCORRECT` for `RvError::PinIncorrect`; anything else as cryptoki says it.
pub(super) fn code(e: &CkError) -> String {
    match e {
        CkError::Pkcs11(rv, _) => {
            let name = format!("{rv:?}");
            if !name.chars().all(|c| c.is_ascii_alphanumeric()) {
                return name;
            }
            let mut out = String::from("CKR");
            for c in name.chars() {
                if c.is_ascii_uppercase() {
                    out.push('_');
                }
                out.push(c.to_ascii_uppercase());
            }
            out
        }
        other => other.to_string(),
    }
}

fn load_module(path: &Path) -> Result<Pkcs11, Pkcs11Error> {
    let mut loaded = MODULES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, m)) = loaded.iter().find(|(p, _)| p == path) {
        return Ok(m.clone());
    }
    let not_loadable = |reason: String| Pkcs11Error::ModuleNotLoadable {
        path: path.to_owned(),
        reason,
    };
    if !path.exists() {
        return Err(not_loadable("no such file".to_owned()));
    }
    let module = Pkcs11::new(path).map_err(|e| not_loadable(e.to_string()))?;
    match module.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        // Already initialised in this process by someone else: usable as it is.
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(not_loadable(format!("C_Initialize failed: {}", code(&e)))),
    }
    loaded.push((path.to_owned(), module.clone()));
    Ok(module)
}

fn matches(wanted: &Option<String>, have: &str) -> bool {
    wanted.as_ref().is_none_or(|w| w == have.trim_end())
}

/// A private key found, with its public key.
pub(super) struct FoundKey {
    pub handle: ObjectHandle,
    pub curve: Curve,
    pub public: PublicKey,
}

/// The token a URI names, with a session open on it.
pub(super) struct OpenToken {
    module: Pkcs11,
    slot: Slot,
    label: String,
    session: Session,
}

impl OpenToken {
    /// Loads the module and opens a read-only session on the one initialised token that
    /// matches the URI's token attributes.
    pub fn open(uri: &Pkcs11Uri) -> Result<OpenToken, Pkcs11Error> {
        let path = uri
            .module_path
            .as_deref()
            .ok_or(Pkcs11Error::NoModulePath)?;
        let module = load_module(path)?;
        let module_err = |call| {
            move |e: CkError| Pkcs11Error::Module {
                path: path.to_owned(),
                call,
                code: code(&e),
            }
        };
        let slots = module
            .get_slots_with_initialized_token()
            .map_err(module_err("C_GetSlotList"))?;
        let mut seen = Vec::new();
        let mut matching = Vec::new();
        for slot in slots {
            let info = module
                .get_token_info(slot)
                .map_err(module_err("C_GetTokenInfo"))?;
            let token = TokenSeen {
                slot_id: slot.id(),
                label: info.label().trim_end().to_owned(),
                manufacturer: info.manufacturer_id().trim_end().to_owned(),
                model: info.model().trim_end().to_owned(),
                serial: info.serial_number().trim_end().to_owned(),
            };
            let mut ok = matches(&uri.token, &token.label)
                && matches(&uri.manufacturer, &token.manufacturer)
                && matches(&uri.model, &token.model)
                && matches(&uri.serial, &token.serial)
                && uri.slot_id.is_none_or(|id| id == token.slot_id);
            if ok && (uri.slot_description.is_some() || uri.slot_manufacturer.is_some()) {
                let s = module
                    .get_slot_info(slot)
                    .map_err(module_err("C_GetSlotInfo"))?;
                ok = matches(&uri.slot_description, s.slot_description())
                    && matches(&uri.slot_manufacturer, s.manufacturer_id());
            }
            if ok {
                matching.push((slot, token.clone()));
            }
            seen.push(token);
        }
        let (slot, token) = match matching.len() {
            0 => {
                return Err(Pkcs11Error::TokenNotFound {
                    path: path.to_owned(),
                    wanted: uri.token_selector(),
                    seen,
                });
            }
            1 => matching.remove(0),
            _ => {
                return Err(Pkcs11Error::AmbiguousToken {
                    wanted: uri.token_selector(),
                    matching: matching.into_iter().map(|(_, t)| t).collect(),
                });
            }
        };
        let session = module
            .open_ro_session(slot)
            .map_err(|e| Pkcs11Error::Token {
                token: token.label.clone(),
                call: "C_OpenSession",
                code: code(&e),
            })?;
        Ok(OpenToken {
            module,
            slot,
            label: token.label,
            session,
        })
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn into_session(self) -> Session {
        self.session
    }

    fn err(&self, call: &'static str) -> impl Fn(CkError) -> Pkcs11Error + '_ {
        move |e| Pkcs11Error::Token {
            token: self.label.clone(),
            call,
            code: code(&e),
        }
    }

    /// Whether the token wants a login before its private objects can be used.
    fn login_required(&self) -> Result<bool, Pkcs11Error> {
        Ok(self
            .module
            .get_token_info(self.slot)
            .map_err(self.err("C_GetTokenInfo"))?
            .login_required())
    }

    /// Logs the user in: on the PIN pad if the token has one, else with the PIN `pin`
    /// gives (asked once). One attempt only.
    pub fn login(&self, pin: PinSource<'_>) -> Result<(), Pkcs11Error> {
        let info = self
            .module
            .get_token_info(self.slot)
            .map_err(self.err("C_GetTokenInfo"))?;
        if !info.login_required() {
            return Ok(());
        }
        let token = || self.label.clone();
        if info.user_pin_locked() {
            return Err(Pkcs11Error::PinLocked { token: token() });
        }
        let result = if info.protected_authentication_path() {
            self.session.login(UserType::User, None)
        } else {
            let pin = pin(&self.label)?;
            let auth = pin.auth_pin();
            self.session.login(UserType::User, Some(&auth))
        };
        match result {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                let after = self.module.get_token_info(self.slot).ok();
                Err(Pkcs11Error::WrongPin {
                    token: token(),
                    final_try: after.as_ref().is_some_and(|i| i.user_pin_final_try()),
                    locked: after.as_ref().is_some_and(|i| i.user_pin_locked()),
                })
            }
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => {
                Err(Pkcs11Error::PinLocked { token: token() })
            }
            Err(
                e @ CkError::Pkcs11(
                    RvError::PinLenRange | RvError::PinInvalid | RvError::PinExpired,
                    _,
                ),
            ) => Err(Pkcs11Error::PinRejected {
                token: token(),
                code: code(&e),
            }),
            Err(e) => Err(self.err("C_Login")(e)),
        }
    }

    fn find(
        &self,
        class: ObjectClass,
        label: Option<&[u8]>,
        id: Option<&[u8]>,
    ) -> Result<Vec<ObjectHandle>, Pkcs11Error> {
        let mut template = vec![Attribute::Class(class)];
        if let Some(l) = label {
            template.push(Attribute::Label(l.to_vec()));
        }
        if let Some(i) = id {
            template.push(Attribute::Id(i.to_vec()));
        }
        let mut found = Vec::new();
        for h in self
            .session
            .iter_objects(&template)
            .map_err(self.err("C_FindObjectsInit"))?
        {
            found.push(h.map_err(self.err("C_FindObjects"))?);
            if found.len() >= MAX_OBJECTS {
                break;
            }
        }
        Ok(found)
    }

    /// The objects of `class` the URI's `object` and `id` select.
    fn find_selected(
        &self,
        class: ObjectClass,
        uri: &Pkcs11Uri,
    ) -> Result<Vec<ObjectHandle>, Pkcs11Error> {
        self.find(
            class,
            uri.object.as_deref().map(str::as_bytes),
            uri.id.as_deref(),
        )
    }

    /// At most one object: several is [`Pkcs11Error::AmbiguousObject`].
    fn one(
        &self,
        found: Vec<ObjectHandle>,
        class: &'static str,
        uri: &Pkcs11Uri,
    ) -> Result<Option<ObjectHandle>, Pkcs11Error> {
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            many => Err(Pkcs11Error::AmbiguousObject {
                token: self.label.clone(),
                class,
                wanted: uri.object_selector(),
                count: many.len(),
            }),
        }
    }

    fn attributes(
        &self,
        handle: ObjectHandle,
        types: &[AttributeType],
    ) -> Result<Vec<Attribute>, Pkcs11Error> {
        self.session
            .get_attributes(handle, types)
            .map_err(self.err("C_GetAttributeValue"))
    }

    /// The one private key the URI names (after login).
    pub fn private_key(&self, uri: &Pkcs11Uri) -> Result<FoundKey, Pkcs11Error> {
        let wanted = uri.object_selector();
        let found = self.find_selected(ObjectClass::PRIVATE_KEY, uri)?;
        let handle = self.one(found, "CKO_PRIVATE_KEY", uri)?.ok_or_else(|| {
            Pkcs11Error::ObjectNotFound {
                token: self.label.clone(),
                class: "private key",
                wanted: wanted.clone(),
            }
        })?;
        let mut key_type = None;
        let mut id = Vec::new();
        let mut label = Vec::new();
        let mut always_authenticate = false;
        for a in self.attributes(
            handle,
            &[
                AttributeType::KeyType,
                AttributeType::Id,
                AttributeType::Label,
                AttributeType::AlwaysAuthenticate,
            ],
        )? {
            match a {
                Attribute::KeyType(t) => key_type = Some(t),
                Attribute::Id(i) => id = i,
                Attribute::Label(l) => label = l,
                Attribute::AlwaysAuthenticate(b) => always_authenticate = b,
                _ => {}
            }
        }
        if key_type != Some(KeyType::EC) {
            return Err(Pkcs11Error::UnsupportedKeyType {
                token: self.label.clone(),
                wanted,
                found: key_type
                    .map_or_else(|| "of an unknown key type".to_owned(), |t| t.to_string()),
            });
        }
        if always_authenticate {
            return Err(Pkcs11Error::AlwaysAuthenticate {
                token: self.label.clone(),
                wanted,
            });
        }
        let public = self.public_of_private(&id, &label, uri)?.ok_or_else(|| {
            Pkcs11Error::PublicKeyNotFound {
                token: self.label.clone(),
                wanted: wanted.clone(),
                id: id.iter().map(|b| format!("%{b:02X}")).collect(),
            }
        })?;
        let curve = self.curve_of(&public, uri)?;
        Ok(FoundKey {
            handle,
            curve,
            public,
        })
    }

    /// The public key object, else the certificate, with the private key's `CKA_ID` (its
    /// label when it has no id).
    fn public_of_private(
        &self,
        id: &[u8],
        label: &[u8],
        uri: &Pkcs11Uri,
    ) -> Result<Option<PublicKey>, Pkcs11Error> {
        let (label, id) = if id.is_empty() {
            (Some(label), None)
        } else {
            (None, Some(id))
        };
        if let Some(h) = self.find(ObjectClass::PUBLIC_KEY, label, id)?.first() {
            return self.read_public_key(*h, uri).map(Some);
        }
        if let Some(h) = self.find(ObjectClass::CERTIFICATE, label, id)?.first() {
            return self.read_certificate(*h, uri).map(Some);
        }
        Ok(None)
    }

    fn curve_of(&self, key: &PublicKey, uri: &Pkcs11Uri) -> Result<Curve, Pkcs11Error> {
        match key.algorithm() {
            KeyAlgorithm::EcdsaP256Sha256 => Ok(Curve::P256),
            KeyAlgorithm::EcdsaP384Sha384 => Ok(Curve::P384),
            other => Err(Pkcs11Error::UnsupportedKeyType {
                token: self.label.clone(),
                wanted: uri.object_selector(),
                found: other.to_string(),
            }),
        }
    }

    fn read_public_key(&self, h: ObjectHandle, uri: &Pkcs11Uri) -> Result<PublicKey, Pkcs11Error> {
        let mut key_type = None;
        let mut params = Vec::new();
        let mut point = Vec::new();
        for a in self.attributes(
            h,
            &[
                AttributeType::KeyType,
                AttributeType::EcParams,
                AttributeType::EcPoint,
            ],
        )? {
            match a {
                Attribute::KeyType(t) => key_type = Some(t),
                Attribute::EcParams(p) => params = p,
                Attribute::EcPoint(p) => point = p,
                _ => {}
            }
        }
        let unsupported = |found: String| Pkcs11Error::UnsupportedKeyType {
            token: self.label.clone(),
            wanted: uri.object_selector(),
            found,
        };
        if key_type != Some(KeyType::EC) {
            return Err(unsupported(key_type.map_or_else(
                || "of an unknown key type".to_owned(),
                |t| t.to_string(),
            )));
        }
        let curve = Curve::from_ec_params(&params).ok_or_else(|| {
            unsupported(format!(
                "an EC key on another curve (CKA_EC_PARAMS {})",
                hex::encode(&params)
            ))
        })?;
        let bad = |reason: String| Pkcs11Error::BadPublicKey {
            token: self.label.clone(),
            wanted: uri.object_selector(),
            reason,
        };
        let point = ec::ec_point(&point, curve).ok_or_else(|| {
            bad(format!(
                "CKA_EC_POINT ({} bytes) is not a {} point",
                point.len(),
                curve.name()
            ))
        })?;
        PublicKey::from_der(&ec::spki(curve, point)).map_err(|e| bad(e.to_string()))
    }

    fn read_certificate(&self, h: ObjectHandle, uri: &Pkcs11Uri) -> Result<PublicKey, Pkcs11Error> {
        let bad = |reason: String| Pkcs11Error::BadPublicKey {
            token: self.label.clone(),
            wanted: uri.object_selector(),
            reason,
        };
        let der = self
            .attributes(h, &[AttributeType::Value])?
            .into_iter()
            .find_map(|a| match a {
                Attribute::Value(v) => Some(v),
                _ => None,
            })
            .ok_or_else(|| bad("the certificate has no CKA_VALUE".to_owned()))?;
        let cert = x509_cert::Certificate::from_der(&der)
            .map_err(|e| bad(format!("the certificate is not X.509 DER: {e}")))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| bad(format!("the certificate's key: {e}")))?;
        PublicKey::from_der(&spki).map_err(|e| bad(e.to_string()))
    }

    /// The public key of what `uri` names: a matching public key object, else a matching
    /// certificate, else the private key's (by its id). Logs in (asking `pin` once) only
    /// if nothing is found before.
    pub fn public_key(
        &self,
        uri: &Pkcs11Uri,
        pin: PinSource<'_>,
    ) -> Result<PublicKey, Pkcs11Error> {
        let wants = |t: ObjectType| uri.object_type.is_none_or(|u| u == t);
        let mut logged_in = false;
        loop {
            if wants(ObjectType::Public) {
                let found = self.find_selected(ObjectClass::PUBLIC_KEY, uri)?;
                if let Some(h) = self.one(found, "CKO_PUBLIC_KEY", uri)? {
                    return self.read_public_key(h, uri);
                }
            }
            if wants(ObjectType::Cert) {
                let found = self.find_selected(ObjectClass::CERTIFICATE, uri)?;
                if let Some(h) = self.one(found, "CKO_CERTIFICATE", uri)? {
                    return self.read_certificate(h, uri);
                }
            }
            if wants(ObjectType::Private) {
                let found = self.find_selected(ObjectClass::PRIVATE_KEY, uri)?;
                if let Some(h) = self.one(found, "CKO_PRIVATE_KEY", uri)? {
                    let mut id = Vec::new();
                    let mut label = Vec::new();
                    for a in self.attributes(h, &[AttributeType::Id, AttributeType::Label])? {
                        match a {
                            Attribute::Id(i) => id = i,
                            Attribute::Label(l) => label = l,
                            _ => {}
                        }
                    }
                    return self.public_of_private(&id, &label, uri)?.ok_or_else(|| {
                        Pkcs11Error::PublicKeyNotFound {
                            token: self.label.clone(),
                            wanted: uri.object_selector(),
                            id: id.iter().map(|b| format!("%{b:02X}")).collect(),
                        }
                    });
                }
            }
            if logged_in || !self.login_required()? {
                return Err(Pkcs11Error::ObjectNotFound {
                    token: self.label.clone(),
                    class: "public key, certificate or private key",
                    wanted: uri.object_selector(),
                });
            }
            // Nothing visible: the token may keep its objects private until a login.
            self.login(&mut *pin)?;
            logged_in = true;
        }
    }
}
