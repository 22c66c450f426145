//! Who a box believes: minisign (Ed25519) keys and signatures.
//!
//! District offices approve bulletins and schedules by signing them. A box checks the raw bytes
//! of a file against the keys in its config *before* parsing anything, so a forged or damaged
//! file never reaches the parsers.
//!
//! We use the minisign file formats unchanged, so a district can sign with the stock Debian
//! `minisign` tool and anyone can check a file with `minisign -V`. The formats are:
//!
//! - public key: `untrusted comment: …` then base64 of `"Ed"` ‖ key id (8) ‖ public key (32);
//! - signature: `untrusted comment: …`, base64 of algorithm (2) ‖ key id (8) ‖ signature (64),
//!   `trusted comment: …`, and base64 of the *global signature* (64) over
//!   signature ‖ trusted comment;
//! - secret key: `untrusted comment: …` then base64 of `"Ed"` ‖ kdf algorithm (2) ‖ `"B2"` ‖
//!   kdf salt (32) ‖ opslimit (8) ‖ memlimit (8) ‖ key id (8) ‖ secret key (64) ‖ checksum (32).
//!
//! Only unencrypted secret keys (kdf algorithm two zero bytes, as `minisign -G -W` writes) are
//! supported: a box or a signing script cannot type a password, and scrypt would be one more
//! dependency for no gain on a device whose disk is the real protection.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Blake2b512, Digest};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// Ed25519 over the raw message: the public key algorithm, and the legacy signature algorithm.
const ALG_ED25519: [u8; 2] = *b"Ed";
/// Ed25519 over the BLAKE2b-512 hash of the message (minisign's default since 0.8).
const ALG_PREHASHED: [u8; 2] = *b"ED";
/// Secret key stored in the clear.
const KDF_NONE: [u8; 2] = [0, 0];
/// Secret key encrypted with a password through scrypt.
const KDF_SCRYPT: [u8; 2] = *b"Sc";
/// The secret key checksum is BLAKE2b-256.
const CHECKSUM_BLAKE2: [u8; 2] = *b"B2";

const UNTRUSTED_PREFIX: &str = "untrusted comment:";
const TRUSTED_PREFIX: &str = "trusted comment: ";

/// Longest signature or key text we look at. Real minisign files are a few hundred bytes
/// (minisign caps comments at 1 KiB); the cap keeps a hostile file from making us allocate.
const MAX_TEXT_LEN: usize = 4096;

const KEY_ID_LEN: usize = 8;
const PUBLIC_KEY_LEN: usize = 2 + KEY_ID_LEN + 32;
const SIGNATURE_LEN: usize = 2 + KEY_ID_LEN + 64;
const GLOBAL_SIGNATURE_LEN: usize = 64;
const SECRET_KEY_LEN: usize = 2 + 2 + 2 + 32 + 8 + 8 + KEY_ID_LEN + 64 + 32;

type KeyId = [u8; KEY_ID_LEN];

/// Why a key or a signature was refused. The messages are meant for a technician's log.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("signature is not minisign format: {0}")]
    SignatureFormat(String),
    #[error("signed by unknown key {0}")]
    UnknownKey(String),
    #[error("signature does not match the data")]
    BadSignature,
    #[error("trusted comment was altered (global signature invalid)")]
    TrustedCommentAltered,
    #[error(
        "secret key is encrypted: loaxa cannot ask for a password; create an unencrypted key \
         with `minisign -G -W` or `loaxa-district key generate`"
    )]
    SecretKeyEncrypted,
    #[error("malformed secret key: {0}")]
    MalformedSecretKey(String),
    #[error("malformed public key: {0}")]
    MalformedPublicKey(String),
    #[error("trusted comment must be a single line: {0:?}")]
    MultilineTrustedComment(String),
}

/// A district's public key: what a box needs to check that district's signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    key_id: KeyId,
    key: VerifyingKey,
}

impl PublicKey {
    /// Reads a minisign `.pub` file, or the bare base64 line that `minisign -P` takes.
    pub fn parse(text: &str) -> Result<PublicKey, TrustError> {
        let bad = TrustError::MalformedPublicKey;
        let line = key_line(text).map_err(bad)?;
        let raw: [u8; PUBLIC_KEY_LEN] = decode_base64(line).map_err(bad)?;
        let (alg, rest) = raw.split_at(2);
        if alg != ALG_ED25519 {
            return Err(bad(format!("unsupported algorithm {}", show_alg(alg))));
        }
        let (key_id, key) = rest.split_at(KEY_ID_LEN);
        Ok(PublicKey {
            key_id: to_array(key_id),
            key: VerifyingKey::from_bytes(&to_array(key))
                .map_err(|_| bad("not a valid Ed25519 public key".into()))?,
        })
    }

    /// The key id as minisign prints it: 16 uppercase hex digits.
    pub fn key_id(&self) -> String {
        show_key_id(&self.key_id)
    }

    /// The content of a minisign `.pub` file. Newlines in `comment` become spaces.
    pub fn to_file_text(&self, comment: &str) -> String {
        let mut raw = Vec::with_capacity(PUBLIC_KEY_LEN);
        raw.extend_from_slice(&ALG_ED25519);
        raw.extend_from_slice(&self.key_id);
        raw.extend_from_slice(self.key.as_bytes());
        file_text(comment, &raw)
    }
}

/// A signing key, as a district office keeps it. `Debug` shows only the key id.
#[derive(Clone)]
pub struct SecretKey {
    key_id: KeyId,
    key: SigningKey,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("key_id", &show_key_id(&self.key_id))
            .finish_non_exhaustive()
    }
}

impl SecretKey {
    /// A new random key pair, with a random key id, both from the operating system.
    ///
    /// # Panics
    /// If the operating system has no randomness to give: a key made without it would be
    /// guessable, so there is nothing sensible to return instead.
    pub fn generate() -> SecretKey {
        let mut seed = [0u8; 32];
        let mut key_id = [0u8; KEY_ID_LEN];
        getrandom::fill(&mut seed).expect("the operating system random generator failed");
        getrandom::fill(&mut key_id).expect("the operating system random generator failed");
        SecretKey {
            key_id,
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// Reads an unencrypted minisign secret key file (as `minisign -G -W` or
    /// [`SecretKey::to_file_text`] writes it).
    pub fn parse(text: &str) -> Result<SecretKey, TrustError> {
        let bad = TrustError::MalformedSecretKey;
        // The two files of a key pair sit side by side and are easily swapped.
        if PublicKey::parse(text).is_ok() {
            return Err(bad(
                "this is the public key (the .pub file boxes trust); sign with the secret key \
                 file, the one without .pub"
                    .into(),
            ));
        }
        let line = key_line(text).map_err(bad)?;
        let raw: [u8; SECRET_KEY_LEN] = decode_base64(line).map_err(bad)?;
        let mut fields = Fields(&raw);
        let (alg, kdf, checksum_alg) = (fields.take(2), fields.take(2), fields.take(2));
        fields.take(32 + 8 + 8); // kdf salt, opslimit, memlimit: unused without encryption
        let (key_id, secret, checksum) =
            (fields.take(KEY_ID_LEN), fields.take(64), fields.take(32));
        if alg != ALG_ED25519 {
            return Err(bad(format!("unsupported algorithm {}", show_alg(alg))));
        }
        if kdf == KDF_SCRYPT {
            return Err(TrustError::SecretKeyEncrypted);
        }
        if kdf != KDF_NONE {
            return Err(bad(format!("unknown key derivation {}", show_alg(kdf))));
        }
        if checksum_alg != CHECKSUM_BLAKE2 {
            return Err(bad(format!("unknown checksum {}", show_alg(checksum_alg))));
        }
        let key_id: KeyId = to_array(key_id);
        let (seed, public) = secret.split_at(32);
        // minisign 0.11 leaves the checksum zero in keys made with -W; accept that, since the
        // public-half check below catches a damaged key just as well.
        if checksum.iter().any(|&b| b != 0) && checksum != secret_checksum(&key_id, secret) {
            return Err(bad("checksum mismatch (file damaged?)".into()));
        }
        let key = SigningKey::from_bytes(&to_array(seed));
        if key.verifying_key().as_bytes() != public {
            return Err(bad("public half does not match the secret seed".into()));
        }
        Ok(SecretKey { key_id, key })
    }

    /// The content of an unencrypted minisign `.key` file. Newlines in `comment` become spaces.
    ///
    /// Keep it as secret as the box's trust depends on: anyone holding it can approve bulletins.
    pub fn to_file_text(&self, comment: &str) -> String {
        let secret = self.key.to_keypair_bytes();
        let mut raw = Vec::with_capacity(SECRET_KEY_LEN);
        raw.extend_from_slice(&ALG_ED25519);
        raw.extend_from_slice(&KDF_NONE);
        raw.extend_from_slice(&CHECKSUM_BLAKE2);
        raw.extend_from_slice(&[0u8; 32 + 8 + 8]);
        raw.extend_from_slice(&self.key_id);
        raw.extend_from_slice(&secret);
        raw.extend_from_slice(&secret_checksum(&self.key_id, &secret));
        file_text(comment, &raw)
    }

    /// The matching public key, to put in the boxes' config.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// A minisign signature file for `data` with the given trusted comment (one line).
    ///
    /// Always signs the BLAKE2b-512 hash of `data` (algorithm `ED`), as current minisign does:
    /// Ed25519 must otherwise read a message twice, so prehashing lets a large audio file be
    /// signed and checked in one pass, and it is what `minisign -V -H` demands.
    pub fn sign(&self, data: &[u8], trusted_comment: &str) -> Result<String, TrustError> {
        if trusted_comment.contains(['\n', '\r']) {
            return Err(TrustError::MultilineTrustedComment(
                trusted_comment.to_owned(),
            ));
        }
        let signature = self.key.sign(&prehash(data)).to_bytes();
        let global = self.key.sign(&global_message(&signature, trusted_comment));
        let mut line = Vec::with_capacity(SIGNATURE_LEN);
        line.extend_from_slice(&ALG_PREHASHED);
        line.extend_from_slice(&self.key_id);
        line.extend_from_slice(&signature);
        Ok(format!(
            "{UNTRUSTED_PREFIX} signature from loaxa secret key {}\n{}\n{TRUSTED_PREFIX}{}\n{}\n",
            show_key_id(&self.key_id),
            BASE64.encode(line),
            trusted_comment,
            BASE64.encode(global.to_bytes()),
        ))
    }
}

/// The set of keys a box trusts (from its config), possibly several, so a district can rotate
/// its key without a flag day: boxes trust old and new until every signer uses the new one.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: Vec<PublicKey>,
}

/// What a good signature tells: who signed, and the comment the signer vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub key_id: String,
    pub trusted_comment: String,
}

impl Keyring {
    pub fn new(keys: Vec<PublicKey>) -> Keyring {
        Keyring { keys }
    }

    /// Verifies `signature` (`.minisig` text) over `data`. Ok gives the key id that signed and
    /// the trusted comment.
    ///
    /// Both signatures are checked. The first covers only the data; the global signature covers
    /// that signature together with the trusted comment. Loaxa puts the scope and revision of a
    /// bulletin in the trusted comment, so without the global signature anyone could take an
    /// old approved file and relabel it as a newer revision or for another commune.
    pub fn verify(&self, data: &[u8], signature: &str) -> Result<Verified, TrustError> {
        let parsed = ParsedSignature::parse(signature)?;
        let key = self
            .keys
            .iter()
            .find(|key| key.key_id == parsed.key_id)
            .ok_or_else(|| TrustError::UnknownKey(show_key_id(&parsed.key_id)))?;
        // Legacy signatures cover the raw data; checking them without a copy matters for audio.
        let data_checked = if parsed.prehashed {
            key.key.verify_strict(&prehash(data), &parsed.signature)
        } else {
            key.key.verify_strict(data, &parsed.signature)
        };
        data_checked.map_err(|_| TrustError::BadSignature)?;
        let global_message = global_message(&parsed.signature.to_bytes(), parsed.trusted_comment);
        key.key
            .verify_strict(&global_message, &parsed.global_signature)
            .map_err(|_| TrustError::TrustedCommentAltered)?;
        Ok(Verified {
            key_id: key.key_id(),
            trusted_comment: parsed.trusted_comment.to_owned(),
        })
    }
}

/// The four lines of a `.minisig` file, decoded but not yet checked against any key.
struct ParsedSignature<'a> {
    prehashed: bool,
    key_id: KeyId,
    signature: Signature,
    trusted_comment: &'a str,
    global_signature: Signature,
}

impl<'a> ParsedSignature<'a> {
    fn parse(text: &'a str) -> Result<Self, TrustError> {
        let bad = TrustError::SignatureFormat;
        if text.len() > MAX_TEXT_LEN {
            return Err(bad(format!("longer than {MAX_TEXT_LEN} bytes")));
        }
        let mut lines = text.lines();
        let mut next_line = |what: &str| lines.next().ok_or_else(|| bad(format!("missing {what}")));
        let untrusted = next_line("untrusted comment line")?;
        let signature_line = next_line("signature line")?;
        let trusted = next_line("trusted comment line")?;
        let global_line = next_line("global signature line")?;
        if !untrusted.starts_with(UNTRUSTED_PREFIX) {
            return Err(bad("first line is not an untrusted comment".into()));
        }
        let trusted_comment = trusted
            .strip_prefix(TRUSTED_PREFIX)
            .ok_or_else(|| bad("third line is not a trusted comment".into()))?;
        if lines.any(|line| !line.trim().is_empty()) {
            return Err(bad("unexpected text after the global signature".into()));
        }
        let raw: [u8; SIGNATURE_LEN] =
            decode_base64(signature_line).map_err(|e| bad(format!("signature line: {e}")))?;
        let global: [u8; GLOBAL_SIGNATURE_LEN] =
            decode_base64(global_line).map_err(|e| bad(format!("global signature line: {e}")))?;
        let (alg, rest) = raw.split_at(2);
        let prehashed = match to_array(alg) {
            ALG_PREHASHED => true,
            ALG_ED25519 => false,
            _ => return Err(bad(format!("unsupported algorithm {}", show_alg(alg)))),
        };
        let (key_id, signature) = rest.split_at(KEY_ID_LEN);
        Ok(ParsedSignature {
            prehashed,
            key_id: to_array(key_id),
            signature: Signature::from_bytes(&to_array(signature)),
            trusted_comment,
            global_signature: Signature::from_bytes(&global),
        })
    }
}

/// Reads consecutive fields out of a buffer whose length the caller has already checked.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, len: usize) -> &'a [u8] {
        let (field, rest) = self.0.split_at(len.min(self.0.len()));
        self.0 = rest;
        field
    }
}

/// The base64 line of a key file: the line after the untrusted comment, or the whole text if
/// it is a bare base64 line (as `minisign -P` takes it).
fn key_line(text: &str) -> Result<&str, String> {
    if text.len() > MAX_TEXT_LEN {
        return Err(format!("longer than {MAX_TEXT_LEN} bytes"));
    }
    let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
    let first = lines.next().ok_or("empty")?;
    let line = if first.starts_with(UNTRUSTED_PREFIX) {
        lines.next().ok_or("missing the base64 line")?
    } else {
        first
    };
    if lines.next().is_some() {
        return Err("unexpected text after the key".into());
    }
    Ok(line)
}

/// Decodes a base64 line that must hold exactly `N` bytes, refusing longer text before decoding.
fn decode_base64<const N: usize>(line: &str) -> Result<[u8; N], String> {
    let line = line.trim();
    let encoded_len = N.div_ceil(3) * 4;
    if line.len() != encoded_len {
        return Err(format!(
            "expected {encoded_len} base64 characters, found {}",
            line.len()
        ));
    }
    let bytes = BASE64
        .decode(line)
        .map_err(|e| format!("invalid base64 ({e})"))?;
    bytes
        .try_into()
        .map_err(|bytes: Vec<u8>| format!("expected {N} bytes, found {}", bytes.len()))
}

/// Copies a slice whose length is fixed by the format into an array.
fn to_array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut array = [0u8; N];
    array.copy_from_slice(bytes);
    array
}

/// A minisign file: an untrusted comment line, then the base64 payload.
fn file_text(comment: &str, raw: &[u8]) -> String {
    let comment = comment.replace(['\n', '\r'], " ");
    format!("{UNTRUSTED_PREFIX} {comment}\n{}\n", BASE64.encode(raw))
}

/// Minisign stores the key id as a little-endian u64 and prints that number in hex, without
/// leading zeros; so does loaxa, so the ids people compare look the same in both tools.
fn show_key_id(key_id: &KeyId) -> String {
    format!("{:X}", u64::from_le_bytes(*key_id))
}

fn show_alg(alg: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(alg))
}

/// What the `ED` algorithm signs: the BLAKE2b-512 hash of the data.
fn prehash(data: &[u8]) -> [u8; 64] {
    Blake2b512::digest(data).into()
}

/// What the global signature signs: the data signature followed by the trusted comment.
fn global_message(signature: &[u8; 64], trusted_comment: &str) -> Vec<u8> {
    [signature.as_slice(), trusted_comment.as_bytes()].concat()
}

/// BLAKE2b-256 of algorithm ‖ key id ‖ secret key, as stored at the end of a secret key file.
fn secret_checksum(key_id: &KeyId, secret: &[u8]) -> [u8; 32] {
    Blake2b::<U32>::new()
        .chain_update(ALG_ED25519)
        .chain_update(key_id)
        .chain_update(secret)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::{Command, Output, Stdio};

    const DATA: &[u8] = b"Ban tin: lich tiem phong ngay 12/5\n";

    /// Runs the Debian `minisign` tool in `dir`, with `stdin` as its standard input.
    fn minisign(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
        use std::io::Write as _;
        let mut child = Command::new("minisign")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the `minisign` tool must be installed (apt-get install minisign)");
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(stdin)
            .expect("minisign reads its stdin");
        child.wait_with_output().expect("minisign runs")
    }

    fn assert_success(output: &Output) {
        assert!(
            output.status.success(),
            "minisign failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn read(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(name)).expect("minisign wrote the file")
    }

    /// A key pair made by `minisign -G -W` in a fresh directory, with DATA in `data.txt`.
    fn minisign_key_pair() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_success(&minisign(
            dir.path(),
            &["-G", "-W", "-p", "k.pub", "-s", "k.key"],
            b"",
        ));
        std::fs::write(dir.path().join("data.txt"), DATA).expect("write data");
        dir
    }

    /// Replaces line `index` of a signature file.
    fn with_line(signature: &str, index: usize, line: &str) -> String {
        let mut lines: Vec<&str> = signature.lines().collect();
        lines[index] = line;
        lines.join("\n") + "\n"
    }

    /// Re-encodes the signature line after changing its decoded bytes.
    fn with_signature_bytes(signature: &str, change: impl FnOnce(&mut Vec<u8>)) -> String {
        let line = signature.lines().nth(1).expect("signature line");
        let mut raw = BASE64.decode(line).expect("valid base64");
        change(&mut raw);
        with_line(signature, 1, &BASE64.encode(raw))
    }

    fn signed() -> (SecretKey, Keyring, String) {
        let key = SecretKey::generate();
        let keyring = Keyring::new(vec![key.public_key()]);
        let signature = key.sign(DATA, "scope:xa-an-binh rev:7").expect("sign");
        (key, keyring, signature)
    }

    #[test]
    fn a_generated_key_signs_and_its_public_key_verifies_with_the_same_key_id() {
        let (key, keyring, signature) = signed();
        let verified = keyring.verify(DATA, &signature).expect("verifies");
        assert_eq!(verified.key_id, key.public_key().key_id());
        assert_eq!(verified.trusted_comment, "scope:xa-an-binh rev:7");
        assert!((1..=16).contains(&verified.key_id.len()));
        assert!(
            verified
                .key_id
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
    }

    #[test]
    fn key_files_written_by_loaxa_read_back_as_the_same_keys() {
        let key = SecretKey::generate();
        let again = SecretKey::parse(&key.to_file_text("loaxa secret key")).expect("parses");
        assert_eq!(again.public_key(), key.public_key());
        let public =
            PublicKey::parse(&key.public_key().to_file_text("loaxa public key")).expect("parses");
        assert_eq!(public, key.public_key());
    }

    #[test]
    fn the_bare_base64_public_key_line_is_accepted() {
        let public = SecretKey::generate().public_key();
        let text = public.to_file_text("x");
        let bare = text.lines().nth(1).expect("base64 line");
        assert_eq!(PublicKey::parse(bare).expect("parses"), public);
        assert_eq!(
            PublicKey::parse(&format!("  {bare}\r\n")).expect("parses"),
            public
        );
    }

    #[test]
    fn a_file_signed_by_loaxa_verifies_with_the_minisign_tool() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (key, _, signature) = signed();
        std::fs::write(dir.path().join("data.txt"), DATA).expect("write");
        std::fs::write(dir.path().join("data.txt.minisig"), &signature).expect("write");
        std::fs::write(dir.path().join("k.pub"), key.public_key().to_file_text("k"))
            .expect("write");
        // -H: minisign must also see the signature as prehashed.
        let output = minisign(
            dir.path(),
            &["-V", "-H", "-m", "data.txt", "-p", "k.pub"],
            b"",
        );
        assert_success(&output);
        assert!(String::from_utf8_lossy(&output.stdout).contains("scope:xa-an-binh rev:7"));
    }

    #[test]
    fn a_secret_key_file_written_by_loaxa_signs_with_the_minisign_tool() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = SecretKey::generate();
        std::fs::write(dir.path().join("k.key"), key.to_file_text("loaxa key")).expect("write");
        std::fs::write(dir.path().join("data.txt"), DATA).expect("write");
        let output = minisign(
            dir.path(),
            &["-S", "-s", "k.key", "-m", "data.txt", "-t", "ok"],
            b"",
        );
        assert_success(&output);
        let keyring = Keyring::new(vec![key.public_key()]);
        let verified = keyring
            .verify(DATA, &read(dir.path(), "data.txt.minisig"))
            .expect("ok");
        assert_eq!(verified.trusted_comment, "ok");
    }

    #[test]
    fn key_ids_print_like_minisign_prints_them_without_leading_zeros() {
        let mut id = [0u8; 8];
        id[0] = 0xAB; // little-endian: the high bytes are zero
        assert_eq!(show_key_id(&id), "AB");
    }

    #[test]
    fn a_key_pair_made_by_minisign_loads_and_its_signatures_verify() {
        let dir = minisign_key_pair();
        let public = PublicKey::parse(&read(dir.path(), "k.pub")).expect("public key parses");
        let secret = SecretKey::parse(&read(dir.path(), "k.key")).expect("secret key parses");
        assert_eq!(secret.public_key(), public);
        assert!(read(dir.path(), "k.pub").contains(&public.key_id()));

        let output = minisign(
            dir.path(),
            &["-S", "-s", "k.key", "-m", "data.txt", "-t", "trusted"],
            b"",
        );
        assert_success(&output);
        let keyring = Keyring::new(vec![public]);
        let verified = keyring
            .verify(DATA, &read(dir.path(), "data.txt.minisig"))
            .expect("minisign's signature verifies");
        assert_eq!(verified.trusted_comment, "trusted");
        assert_eq!(verified.key_id, secret.public_key().key_id());
    }

    #[test]
    fn a_legacy_unhashed_signature_from_minisign_verifies() {
        let dir = minisign_key_pair();
        let output = minisign(
            dir.path(),
            &["-S", "-l", "-s", "k.key", "-m", "data.txt", "-t", "legacy"],
            b"",
        );
        assert_success(&output);
        let signature = read(dir.path(), "data.txt.minisig");
        let line = signature.lines().nth(1).expect("signature line");
        assert!(BASE64.decode(line).expect("base64").starts_with(b"Ed"));
        let keyring = Keyring::new(vec![
            PublicKey::parse(&read(dir.path(), "k.pub")).expect("pub"),
        ]);
        let verified = keyring.verify(DATA, &signature).expect("legacy verifies");
        assert_eq!(verified.trusted_comment, "legacy");
        assert!(matches!(
            keyring.verify(b"other", &signature),
            Err(TrustError::BadSignature)
        ));
    }

    #[test]
    fn an_encrypted_minisign_key_is_refused_with_a_hint_to_make_an_unencrypted_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let output = minisign(
            dir.path(),
            &["-G", "-p", "e.pub", "-s", "e.key"],
            b"password\npassword\n",
        );
        assert_success(&output);
        let error = SecretKey::parse(&read(dir.path(), "e.key")).expect_err("encrypted");
        assert!(matches!(error, TrustError::SecretKeyEncrypted));
        let message = error.to_string();
        assert!(
            message.starts_with("secret key is encrypted: "),
            "{message}"
        );
        assert!(message.contains("minisign -G -W"), "{message}");
        // Its public key is ordinary and still loads.
        PublicKey::parse(&read(dir.path(), "e.pub")).expect("public key parses");
    }

    #[test]
    fn data_changed_by_one_byte_is_refused() {
        let (_, keyring, signature) = signed();
        let mut data = DATA.to_vec();
        data[3] ^= 1;
        assert!(matches!(
            keyring.verify(&data, &signature),
            Err(TrustError::BadSignature)
        ));
        assert_eq!(
            TrustError::BadSignature.to_string(),
            "signature does not match the data"
        );
    }

    #[test]
    fn an_edited_trusted_comment_is_refused() {
        let (_, keyring, signature) = signed();
        let edited = with_line(&signature, 2, "trusted comment: scope:xa-an-binh rev:8");
        let error = keyring.verify(DATA, &edited).expect_err("refused");
        assert!(matches!(error, TrustError::TrustedCommentAltered));
        assert_eq!(
            error.to_string(),
            "trusted comment was altered (global signature invalid)"
        );
    }

    #[test]
    fn an_edited_untrusted_comment_does_not_matter() {
        let (_, keyring, signature) = signed();
        let edited = with_line(&signature, 0, "untrusted comment: anything at all");
        keyring.verify(DATA, &edited).expect("still verifies");
    }

    #[test]
    fn a_signature_by_a_key_not_in_the_keyring_is_refused_naming_its_key_id() {
        let (stranger, _, signature) = signed();
        let keyring = Keyring::new(vec![
            SecretKey::generate().public_key(),
            SecretKey::generate().public_key(),
        ]);
        let error = keyring.verify(DATA, &signature).expect_err("refused");
        assert_eq!(
            error.to_string(),
            format!("signed by unknown key {}", stranger.public_key().key_id())
        );
    }

    #[test]
    fn any_key_of_a_rotating_keyring_is_accepted() {
        let (old, _, old_signature) = signed();
        let new = SecretKey::generate();
        let keyring = Keyring::new(vec![old.public_key(), new.public_key()]);
        let new_signature = new.sign(DATA, "rev:8").expect("sign");
        assert_eq!(
            keyring.verify(DATA, &old_signature).expect("old").key_id,
            old.public_key().key_id()
        );
        assert_eq!(
            keyring.verify(DATA, &new_signature).expect("new").key_id,
            new.public_key().key_id()
        );
    }

    #[test]
    fn garbage_signature_text_is_refused_as_not_minisign() {
        let keyring = signed().1;
        for garbage in [
            "",
            "hello",
            "\n\n\n\n",
            "untrusted comment: x\n!!!\ntrusted comment: \n!!!",
        ] {
            let error = keyring.verify(DATA, garbage).expect_err("refused");
            assert!(
                error
                    .to_string()
                    .starts_with("signature is not minisign format: "),
                "{garbage:?}: {error}"
            );
        }
    }

    #[test]
    fn truncated_base64_is_refused_as_not_minisign() {
        let (_, keyring, signature) = signed();
        let line = signature.lines().nth(1).expect("signature line");
        let truncated = with_line(&signature, 1, &line[..line.len() - 4]);
        assert!(matches!(
            keyring.verify(DATA, &truncated),
            Err(TrustError::SignatureFormat(_))
        ));
        let global = signature.lines().nth(3).expect("global line");
        let truncated = with_line(&signature, 3, &global[..10]);
        assert!(matches!(
            keyring.verify(DATA, &truncated),
            Err(TrustError::SignatureFormat(_))
        ));
    }

    #[test]
    fn unknown_algorithm_bytes_are_refused() {
        let (_, keyring, signature) = signed();
        let changed = with_signature_bytes(&signature, |raw| raw[..2].copy_from_slice(b"XX"));
        let error = keyring.verify(DATA, &changed).expect_err("refused");
        assert!(
            error.to_string().contains("unsupported algorithm"),
            "{error}"
        );
    }

    #[test]
    fn a_prehashed_signature_relabelled_as_legacy_is_refused() {
        let (_, keyring, signature) = signed();
        let changed = with_signature_bytes(&signature, |raw| raw[..2].copy_from_slice(b"Ed"));
        assert!(matches!(
            keyring.verify(DATA, &changed),
            Err(TrustError::BadSignature)
        ));
    }

    #[test]
    fn text_after_the_global_signature_is_refused_but_trailing_blank_lines_are_not() {
        let (_, keyring, signature) = signed();
        keyring
            .verify(DATA, &format!("{signature}\n\n"))
            .expect("blank lines are fine");
        assert!(matches!(
            keyring.verify(DATA, &format!("{signature}extra\n")),
            Err(TrustError::SignatureFormat(_))
        ));
    }

    #[test]
    fn signature_text_over_four_kibibytes_is_refused_before_decoding() {
        let (_, keyring, signature) = signed();
        let padded = signature.replacen(
            "untrusted comment: ",
            &format!("untrusted comment: {}", "x".repeat(MAX_TEXT_LEN)),
            1,
        );
        let error = keyring.verify(DATA, &padded).expect_err("refused");
        assert!(
            error.to_string().contains("longer than 4096 bytes"),
            "{error}"
        );
    }

    #[test]
    fn a_multi_line_trusted_comment_is_refused_when_signing() {
        let key = SecretKey::generate();
        for comment in ["rev:1\nrev:2", "rev:1\r"] {
            assert!(matches!(
                key.sign(DATA, comment),
                Err(TrustError::MultilineTrustedComment(_))
            ));
        }
    }

    #[test]
    fn malformed_public_keys_are_refused_with_a_reason() {
        let text = SecretKey::generate().public_key().to_file_text("k");
        let line = text.lines().nth(1).expect("base64 line");
        let wrong_alg = BASE64.encode([b"XX".as_slice(), &[0u8; 40]].concat());
        for bad in [
            "",
            "untrusted comment: only",
            &line[..20],
            wrong_alg.as_str(),
            "%%%%",
        ] {
            let error = PublicKey::parse(bad).expect_err("refused");
            assert!(
                error.to_string().starts_with("malformed public key: "),
                "{bad:?}: {error}"
            );
        }
    }

    #[test]
    fn a_public_key_given_for_the_secret_key_is_named_as_such() {
        let public = SecretKey::generate().public_key().to_file_text("k");
        let error = SecretKey::parse(&public).unwrap_err().to_string();
        assert!(error.contains("this is the public key"), "{error}");
    }

    #[test]
    fn a_damaged_secret_key_is_refused() {
        let text = SecretKey::generate().to_file_text("k");
        let line = text.lines().nth(1).expect("base64 line");
        let mut raw = BASE64.decode(line).expect("base64");
        raw[70] ^= 1; // inside the secret seed
        let damaged = BASE64.encode(&raw);
        assert!(matches!(
            SecretKey::parse(&damaged),
            Err(TrustError::MalformedSecretKey(_))
        ));
    }

    #[test]
    fn hostile_truncations_and_edits_never_panic() {
        let (key, keyring, signature) = signed();
        let texts = [
            signature,
            key.to_file_text("k"),
            key.public_key().to_file_text("k"),
        ];
        for text in &texts {
            for cut in 0..text.len() {
                let (head, tail) = text.split_at(cut);
                for candidate in [head.to_owned(), format!("{head}#{}", &tail[1..])] {
                    let _ = keyring.verify(DATA, &candidate);
                    let _ = PublicKey::parse(&candidate);
                    let _ = SecretKey::parse(&candidate);
                }
            }
        }
        // Everything after the untrusted comment is covered: any cut or edit there is refused.
        let signature = &texts[0];
        let first_line_end = signature.find('\n').expect("several lines");
        for cut in first_line_end..signature.trim_end().len() {
            let (head, tail) = signature.split_at(cut);
            assert!(keyring.verify(DATA, head).is_err(), "cut at {cut}");
            let edited = format!("{head}#{}", &tail[1..]);
            assert!(keyring.verify(DATA, &edited).is_err(), "edit at {cut}");
        }
    }
}
