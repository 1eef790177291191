//! Does a config value look like a credential?
//!
//! Feeds the `secret` rule of `check --base` (issue 4): a value *added* by a
//! change that looks like a credential is an error, and the value is shown
//! only through [`mask`] in every output format. Pure functions, no I/O: the
//! caller walks the change and passes each added scalar with the last segment
//! of its key path.
//!
//! # What this is not
//!
//! A heuristic net for config review, not a secret scanner like gitleaks or
//! trufflehog. It looks at one scalar at a time, knows a handful of formats
//! that are common in service config, never verifies a token against its
//! issuer, never decodes nested encodings beyond recognising a base64 PEM
//! header and telling encoded text from encoded keys (so base64 of
//! `user:password`, a Docker `auth` entry, passes), and never scans
//! substrings of free text for entropy. It errs towards silence on ordinary
//! values: a rule that fires on checksums and UUIDs teaches reviewers to
//! ignore it, which is worse than missing an exotic token.
//!
//! # Rules, first match wins (most specific first)
//!
//! 1. **`PrivateKey`**: a PEM header `-----BEGIN … PRIVATE KEY-----`
//!    (PKCS#8, RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP `… PRIVATE KEY BLOCK`)
//!    anywhere in the value, or a standard-base64 value that decodes to one
//!    (Kubernetes `data:` and Helm values carry PEM that way). Whatever the
//!    key: a private key is never config. A base64 PEM that is *not* private
//!    (a certificate, a CA bundle) is public; the entropy rule below lets it
//!    pass as encoded text.
//! 2. **Named formats**, matched as a token anywhere in the value, whatever
//!    the key, because the format alone is the evidence: AWS access key ids
//!    (`AKIA`, `ASIA`, … + 16), GitHub tokens (`ghp_` / `gho_` / `ghu_` /
//!    `ghs_` / `ghr_` + 36, `github_pat_…`), Slack tokens (`xoxb-` etc.
//!    followed by the numeric workspace part) and incoming-webhook URLs,
//!    Google API keys (`AIza` + 35), Stripe live keys (`sk_live_`,
//!    `rk_live_`), JWTs (`eyJ….eyJ….sig`). A match made of few distinct
//!    characters (`ghp_xxxx…`, `AKIAXXXX…`) is a documentation placeholder,
//!    not a token. Stripe *test* keys are not `StripeKey` on purpose: they
//!    cannot move money and example configs carry them routinely; being
//!    random tokens, they are still caught by the entropy rule below.
//! 3. **`UrlCredentials`**: a URL with a password in its user info
//!    (`postgres://app:pw@db/app`) or a query parameter named like a secret
//!    (`?access_token=…`), unless that part is a reference or placeholder.
//!    `https://user@host` carries no password and is fine.
//!
//! From here on the key name matters. A key whose last word *describes* a
//! secret rather than holding it (`secret_name`, `token_ttl`,
//! `password_min_length`, `key_id`, `password_file`, `*_hash`, `*_url`, …),
//! or any key with the word `public`, stops here: the name is stronger
//! evidence than the shape of the value.
//!
//! 4. **`AwsSecretKey`**: exactly 40 characters of `[A-Za-z0-9/+]` mixing
//!    upper and lower case, only when the key name mentions `aws` or
//!    `secret`. Forty base64 characters alone are too common to flag.
//! 5. **`HighEntropy`**, two shapes:
//!    - hex (optionally `0x`-prefixed) or a UUID: only with at least 32 hex
//!      digits *and* a key name that suggests a secret (`secret`, `token`,
//!      `key`, `password`, `passwd`, `pwd`, `credential`, `auth`, `private`,
//!      `signature`, …). Git SHAs, sha256 checksums and UUIDs are hex too and
//!      sit under ordinary keys everywhere; the key is what tells them apart.
//!      `key` does not count after a qualifier that makes it an identifier
//!      (`cache_key`, `partition_key`, `kms_key`, …). A hex run with fewer
//!      than 3 bits/char of entropy (`0000…`) is filler, not key material.
//!    - anything else: at least 24 characters, no whitespace, only base64 /
//!      base64url characters, mixing at least three of upper, lower, digit
//!      and symbol (`+/=_-`), with Shannon entropy of at least 4.2 bits per
//!      character. Three classes keep out plain camelCase identifiers and
//!      kebab-case names, the entropy floor keeps out repetitive strings.
//!      The floor is deliberately high: the entropy of a 24-character sample
//!      cannot exceed log2(24) ≈ 4.58, so about a third of random 24-character
//!      tokens fall below it (almost none from 32 characters on). Those are
//!      left to the named formats and the literal rule. Entropy alone cannot
//!      tell two look-alikes from a key, so two more checks exempt them:
//!      identifiers whose letters are mostly pronounceable words
//!      (`MyServiceV2HandlerFactory2024` has digits, so three classes, and
//!      4.4 bits/char), and base64 whose decoded bytes are printable text
//!      (`cmluZ21hc3Rlcg==`: the encoding spreads any input over the
//!      alphabet, so encoded text scores like a random key).
//! 6. **`PasswordLiteral`**: a key whose name is or ends with `password`,
//!    `passwd`, `pwd`, `passphrase`, `secret`, `token`, `api_key`/`apikey`,
//!    `client_secret`, `private_key`, `access_key` or `secret_key` (compared
//!    case-insensitively with `-`, `_`, `.` and camelCase boundaries ignored),
//!    holding a literal value. Not a literal:
//!    - a reference: `${VAR}`, `$VAR` (upper case, as environment variables
//!      are), `{{ … }}`, `%(name)s`, `env:`, `vault:`, `secret:`, `ref+…`,
//!      `sops:`, `file:`, `op://`, an AWS Secrets Manager or SSM parameter
//!      ARN, a GCP `projects/…/secrets/…` name, an Azure
//!      `@Microsoft.KeyVault(…)` reference, or an absolute path (a file that
//!      holds the secret);
//!    - a placeholder: empty, `changeme`, `xxx`, `***`, `<redacted>` (any
//!      `<…>`), `TODO`, `none`, `null`, `~`, `true`, `false`. These are
//!      obviously not working credentials. `changeme` deserves a rule of its
//!      own someday (a default password that reaches production is a real
//!      risk), but it is a different finding from "a secret was committed".
//!
//!    The Helm convention `existingSecret: <name>` names a secret and is
//!    exempt.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

/// What kind of credential a value looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum SecretKind {
    PrivateKey,
    AwsAccessKey,
    AwsSecretKey,
    GithubToken,
    SlackToken,
    SlackWebhook,
    GoogleApiKey,
    StripeKey,
    Jwt,
    UrlCredentials,
    HighEntropy,
    PasswordLiteral,
}

impl SecretKind {
    /// Every kind, in rule order (the tests walk them all).
    #[cfg(test)]
    pub(crate) const ALL: [SecretKind; 12] = [
        SecretKind::PrivateKey,
        SecretKind::AwsAccessKey,
        SecretKind::AwsSecretKey,
        SecretKind::GithubToken,
        SecretKind::SlackToken,
        SecretKind::SlackWebhook,
        SecretKind::GoogleApiKey,
        SecretKind::StripeKey,
        SecretKind::Jwt,
        SecretKind::UrlCredentials,
        SecretKind::HighEntropy,
        SecretKind::PasswordLiteral,
    ];

    /// A noun phrase for messages: "looks like {describe}".
    pub(crate) fn describe(self) -> &'static str {
        match self {
            SecretKind::PrivateKey => "a private key block",
            SecretKind::AwsAccessKey => "an AWS access key id",
            SecretKind::AwsSecretKey => "an AWS secret access key",
            SecretKind::GithubToken => "a GitHub token",
            SecretKind::SlackToken => "a Slack token",
            SecretKind::SlackWebhook => "a Slack incoming-webhook URL",
            SecretKind::GoogleApiKey => "a Google API key",
            SecretKind::StripeKey => "a Stripe live secret key",
            SecretKind::Jwt => "a JSON Web Token",
            SecretKind::UrlCredentials => "a URL with embedded credentials",
            SecretKind::HighEntropy => "a high-entropy token",
            SecretKind::PasswordLiteral => "a literal password or secret",
        }
    }

    /// A stable kebab-case identifier for machine-readable output.
    #[cfg(test)]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SecretKind::PrivateKey => "private-key",
            SecretKind::AwsAccessKey => "aws-access-key",
            SecretKind::AwsSecretKey => "aws-secret-key",
            SecretKind::GithubToken => "github-token",
            SecretKind::SlackToken => "slack-token",
            SecretKind::SlackWebhook => "slack-webhook",
            SecretKind::GoogleApiKey => "google-api-key",
            SecretKind::StripeKey => "stripe-key",
            SecretKind::Jwt => "jwt",
            SecretKind::UrlCredentials => "url-credentials",
            SecretKind::HighEntropy => "high-entropy",
            SecretKind::PasswordLiteral => "password-literal",
        }
    }
}

impl std::fmt::Display for SecretKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// Minimum length of a generic high-entropy token, in characters.
const ENTROPY_MIN_LEN: usize = 24;
/// Minimum Shannon entropy of a generic token, bits per character.
const ENTROPY_MIN_BITS: f64 = 4.2;
/// Minimum hex digits for a hex string under a secret-sounding key: 128 bits.
const HEX_MIN_DIGITS: usize = 32;
/// Below this a hex run or a named-format match is filler (`0000…`,
/// `AKIAXXXX…`), not key material.
const FILLER_MAX_BITS: f64 = 3.0;
/// How many characters of the original [`mask`] may keep.
const MASK_KEEP: usize = 4;
/// Values shorter than this are masked without any prefix.
const MASK_MIN_LEN_FOR_PREFIX: usize = 16;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("constant secret-detection regex must compile")
}

static PEM_PRIVATE: LazyLock<Regex> =
    LazyLock::new(|| re(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"));

/// Formats recognisable on their own, in rule order. `\b` keeps a match from
/// starting or ending inside a longer word, so `AKIA…` inside a longer
/// upper-case run is not an access key id.
static NAMED: LazyLock<[(SecretKind, Regex); 7]> = LazyLock::new(|| {
    [
        (
            SecretKind::AwsAccessKey,
            re(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"),
        ),
        (
            SecretKind::GithubToken,
            re(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{36,})"),
        ),
        // The numeric workspace part keeps `xoxb-your-token-here` out.
        (
            SecretKind::SlackToken,
            re(r"\bxox[abposr]-[0-9]+-[0-9A-Za-z-]{8,}"),
        ),
        (
            SecretKind::SlackWebhook,
            re(r"hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{16,}"),
        ),
        (SecretKind::GoogleApiKey, re(r"\bAIza[0-9A-Za-z_-]{35}")),
        (SecretKind::StripeKey, re(r"\b[rs]k_live_[0-9A-Za-z]{16,}")),
        // Header and payload are base64url JSON objects, so both start `eyJ`.
        (
            SecretKind::Jwt,
            re(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        ),
    ]
});

/// What [`mask`] writes: never a credential itself.
static MASKED: LazyLock<Regex> = LazyLock::new(|| re(r"^(?:[^\s…]{1,4}…|•••)\(\d+ chars?\)$"));

/// `scheme://user:password@`; the user part may be empty (`redis://:pw@h`).
static URL_USERINFO_PASSWORD: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b[a-z][a-z0-9+.-]*://[^/\s:@]*:([^/\s@]+)@"));
static URL_QUERY_PARAM: LazyLock<Regex> = LazyLock::new(|| re(r"[?&]([A-Za-z0-9_.-]+)=([^&#]+)"));

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
});
/// Subresource-integrity style digests (`sha512-<base64>`): hashes, not keys.
static SRI_DIGEST: LazyLock<Regex> = LazyLock::new(|| re(r"^(?:sha1|sha256|sha384|sha512)-"));

/// A bare `$VAR`. Upper case only, as environment variables are, so a
/// password that happens to start with `$` is still a literal.
static BARE_ENV_VAR: LazyLock<Regex> = LazyLock::new(|| re(r"^\$[A-Z_][A-Z0-9_]*$"));
/// Python `%(name)s` interpolation.
static PY_INTERPOLATION: LazyLock<Regex> = LazyLock::new(|| re(r"%\([^)]*\)s"));
/// AWS Secrets Manager / SSM parameter ARNs in any partition.
static AWS_SECRET_ARN: LazyLock<Regex> =
    LazyLock::new(|| re(r"^arn:aws[a-z-]*:(?:secretsmanager|ssm):"));
/// GCP Secret Manager resource names.
static GCP_SECRET_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"^projects/[^/\s]+/secrets/"));

/// Prefixes (compared in lower case) of values that point at a secret held
/// elsewhere rather than being one.
const REFERENCE_PREFIXES: &[&str] = &[
    "env:",
    "vault:",
    "secret:",
    "secrets:",
    "ref+",
    "sops:",
    "file:",
    "op://",
    "@microsoft.keyvault(",
];

/// Values (compared in lower case) that are obviously not working
/// credentials.
const PLACEHOLDERS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "todo",
    "tbd",
    "none",
    "null",
    "nil",
    "~",
    "true",
    "false",
    "redacted",
];

/// Key-name endings (separators and case removed) that mean the value itself
/// is the secret.
const PASSWORD_KEY_SUFFIXES: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "accesskey",
    "secretkey",
];

/// Last words of a key name that describe a secret (its name, lifetime,
/// location, digest, policy…) rather than hold it.
const DESCRIPTOR_WORDS: &[&str] = &[
    "name",
    "names",
    "id",
    "ids",
    "arn",
    "ref",
    "reference",
    "file",
    "path",
    "dir",
    "url",
    "uri",
    "endpoint",
    "host",
    "fingerprint",
    "checksum",
    "digest",
    "hash",
    "sha",
    "sha1",
    "sha256",
    "sha512",
    "md5",
    "integrity",
    "revision",
    "rev",
    "commit",
    "version",
    "type",
    "kind",
    "format",
    "algorithm",
    "alg",
    "length",
    "len",
    "size",
    "count",
    "min",
    "max",
    "ttl",
    "timeout",
    "expiry",
    "expires",
    "expiration",
    "lifetime",
    "seconds",
    "secs",
    "ms",
    "minutes",
    "hours",
    "days",
    "enabled",
    "disabled",
    "required",
    "header",
    "field",
    "param",
    "env",
    "var",
    "prefix",
    "suffix",
    "policy",
    "rotation",
    "hint",
    "label",
    "description",
];

/// Stems of key-name words that suggest a secret (for hex values).
const SECRET_WORD_STEMS: &[&str] = &[
    "secret",
    "token",
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "credential",
    "private",
    "signature",
    "signing",
    "apikey",
    "hmac",
];

/// Words before `key` that make it an identifier rather than key material.
const NON_SECRET_KEY_QUALIFIERS: &[&str] = &[
    "cache",
    "partition",
    "sort",
    "primary",
    "foreign",
    "idempotency",
    "routing",
    "shard",
    "dedup",
    "object",
    "lookup",
    "kms",
    "index",
    "row",
];

/// Whether a config value set under `key` (the last path segment, e.g.
/// `password`, `api_key`, `db_password`) looks like a credential. `None` for
/// ordinary values. See the module doc for the rules and their order.
pub(crate) fn detect(key: &str, value: &str) -> Option<SecretKind> {
    let value = value.trim();
    // Empty, or already masked (a snippet masked once is not masked again).
    if value.is_empty() || MASKED.is_match(value) {
        return None;
    }

    // 1. Private keys, plain or base64-wrapped.
    if PEM_PRIVATE.is_match(value) {
        return Some(SecretKind::PrivateKey);
    }
    if base64_pem_header(value).is_some_and(|header| PEM_PRIVATE.is_match(&header)) {
        return Some(SecretKind::PrivateKey);
    }

    // 2. Named formats.
    for (kind, pattern) in NAMED.iter() {
        if pattern
            .find_iter(value)
            .any(|m| shannon_entropy(m.as_str()) >= FILLER_MAX_BITS)
        {
            return Some(*kind);
        }
    }

    // 3. Credentials inside a URL.
    if url_has_credentials(value) {
        return Some(SecretKind::UrlCredentials);
    }

    // From here on the key name is part of the evidence.
    let key = KeyName::parse(key);
    if key.is_descriptor() {
        return None;
    }

    // 4. AWS secret access key.
    if key.mentions_aws_or_secret() && is_aws_secret_shape(value) {
        return Some(SecretKind::AwsSecretKey);
    }

    // 5. High entropy: hex needs a secret-sounding key, anything else needs
    //    the token shape.
    if let Some(hex) = hex_body(value) {
        if hex.len() >= HEX_MIN_DIGITS
            && key.suggests_secret()
            && shannon_entropy(hex) >= FILLER_MAX_BITS
        {
            return Some(SecretKind::HighEntropy);
        }
    } else if is_high_entropy_token(value) {
        return Some(SecretKind::HighEntropy);
    }

    // 6. A literal under a password-like key.
    if key.holds_secret() && is_literal(value) {
        return Some(SecretKind::PasswordLiteral);
    }
    None
}

/// The masked form shown in every output: the first 4 characters when the
/// value is at least 16 characters long (`AKIA…(20 chars)`), else
/// `•••(N chars)`. Never more than 4 characters of the original, and none at
/// all of a private key (its header is harmless but the rule is simpler to
/// trust without exceptions), nor when the prefix would contain whitespace or
/// control characters that could break a one-line report.
pub(crate) fn mask(value: &str) -> String {
    let len = value.chars().count();
    let unit = if len == 1 { "char" } else { "chars" };
    let prefix: String = value.chars().take(MASK_KEEP).collect();
    let keep_prefix = len >= MASK_MIN_LEN_FOR_PREFIX
        && prefix
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control())
        && !PEM_PRIVATE.is_match(value)
        && !base64_pem_header(value.trim()).is_some_and(|h| PEM_PRIVATE.is_match(&h));
    if keep_prefix {
        format!("{prefix}…({len} {unit})")
    } else {
        format!("•••({len} {unit})")
    }
}

/// A key name split into lower-case words at `-`, `_`, `.`, other
/// non-alphanumerics and camelCase boundaries (`dbPassword`, `AWSSecretKey`,
/// `API_KEY`).
struct KeyName {
    words: Vec<String>,
    /// The words joined: `db_password`, `dbPassword` and `DBPASSWORD` all
    /// become `dbpassword`.
    compact: String,
}

impl KeyName {
    fn parse(key: &str) -> Self {
        let words: Vec<String> = split_words(key, |c| !c.is_alphanumeric())
            .into_iter()
            .map(str::to_lowercase)
            .collect();
        let compact = words.concat();
        KeyName { words, compact }
    }

    fn last(&self) -> Option<&str> {
        self.words.last().map(String::as_str)
    }

    /// Names something about a secret (`secret_name`, `token_ttl`), or is
    /// explicitly public (`public_key`).
    fn is_descriptor(&self) -> bool {
        self.last().is_some_and(|w| DESCRIPTOR_WORDS.contains(&w))
            || self.words.iter().any(|w| w == "public")
    }

    /// The value under this key is itself the secret (`db_password`,
    /// `clientSecret`, `API_KEY`).
    fn holds_secret(&self) -> bool {
        let existing = self.words.len() >= 2 && self.words[self.words.len() - 2] == "existing";
        !existing
            && PASSWORD_KEY_SUFFIXES
                .iter()
                .any(|s| self.compact.ends_with(s))
    }

    fn mentions_aws_or_secret(&self) -> bool {
        self.words
            .iter()
            .any(|w| w.starts_with("aws") || w.contains("secret"))
    }

    /// Some word hints at secret material (used for hex values).
    fn suggests_secret(&self) -> bool {
        self.words.iter().enumerate().any(|(i, w)| {
            let stem = SECRET_WORD_STEMS.iter().any(|s| w.starts_with(s));
            // `auth`, `authz`, `authorization`, `authentication`, not `author`.
            let auth =
                w.starts_with("auth") && (!w.starts_with("author") || w.starts_with("authoriz"));
            let creds = w == "cred" || w == "creds" || w == "sig";
            let key = (w == "key" || w == "keys")
                && !(i > 0 && NON_SECRET_KEY_QUALIFIERS.contains(&self.words[i - 1].as_str()));
            stem || auth || creds || key
        }) || self.holds_secret()
    }
}

/// Splits `s` into words at characters for which `is_separator` holds and at
/// camelCase boundaries, keeping case. A word starts at an upper-case letter
/// after a lower-case letter or digit (`dbPassword`), or at the last capital
/// of an acronym followed by lower case (`AWSSecret` → `AWS`, `Secret`).
fn split_words(s: &str, is_separator: impl Fn(char) -> bool) -> Vec<&str> {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    for (i, &(pos, c)) in chars.iter().enumerate() {
        if is_separator(c) {
            if let Some(st) = start.take() {
                words.push(&s[st..pos]);
            }
            continue;
        }
        match start {
            None => start = Some(pos),
            Some(st) if c.is_uppercase() => {
                // `start` is set, so the previous character is part of this
                // word, not a separator.
                let prev_upper = chars[..i].last().is_some_and(|&(_, p)| p.is_uppercase());
                let next_lower = chars.get(i + 1).is_some_and(|&(_, n)| n.is_lowercase());
                if !prev_upper || next_lower {
                    words.push(&s[st..pos]);
                    start = Some(pos);
                }
            }
            Some(_) => {}
        }
    }
    if let Some(st) = start {
        words.push(&s[st..]);
    }
    words
}

/// Whether at least 80 % of the value's letters belong to pronounceable words
/// (`Handler`, `config`: three or more letters, lower case after an optional
/// capital, with a vowel). Identifiers like `MyServiceV2HandlerFactory2024`
/// pass the class and entropy tests of a token; random base64 almost never
/// has that many letters in such words (measured: about 1 in 1 000 random
/// 24-character tokens, fewer when longer).
fn looks_like_words(value: &str) -> bool {
    let letters = value.chars().filter(char::is_ascii_alphabetic).count();
    if letters == 0 {
        return false;
    }
    let in_words: usize = split_words(value, |c| !c.is_ascii_alphabetic())
        .into_iter()
        .filter(|w| {
            w.len() >= 3
                && w.bytes().skip(1).all(|b| b.is_ascii_lowercase())
                && w.bytes().any(|b| b"aeiouyAEIOUY".contains(&b))
        })
        .map(str::len)
        .sum();
    in_words * 10 >= letters * 8
}

/// Neither a reference to a secret held elsewhere nor a placeholder.
fn is_literal(value: &str) -> bool {
    !is_reference(value) && !is_placeholder(value)
}

fn is_reference(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    value.contains("${")
        || BARE_ENV_VAR.is_match(value)
        || (value.contains("{{") && value.contains("}}"))
        || PY_INTERPOLATION.is_match(value)
        || REFERENCE_PREFIXES.iter().any(|p| lower.starts_with(p))
        || AWS_SECRET_ARN.is_match(&lower)
        || GCP_SECRET_NAME.is_match(value)
        || value.starts_with('/')
}

fn is_placeholder(value: &str) -> bool {
    let lower = value.trim().to_lowercase();
    lower.is_empty()
        || PLACEHOLDERS.contains(&lower.as_str())
        || (lower.len() >= 2 && lower.starts_with('<') && lower.ends_with('>'))
        || ['x', '*', '•']
            .iter()
            .any(|&f| lower.chars().all(|c| c == f))
}

/// A password in the URL's user info, or a secret-named query parameter,
/// that is a literal.
fn url_has_credentials(value: &str) -> bool {
    if !value.contains("://") {
        return false;
    }
    let userinfo = URL_USERINFO_PASSWORD
        .captures_iter(value)
        .filter_map(|c| c.get(1))
        .any(|password| is_literal(password.as_str()));
    userinfo
        || URL_QUERY_PARAM
            .captures_iter(value)
            .any(|c| match (c.get(1), c.get(2)) {
                (Some(name), Some(param)) => {
                    KeyName::parse(name.as_str()).holds_secret()
                        && is_literal(param.as_str().trim())
                }
                _ => false,
            })
}

fn is_aws_secret_shape(value: &str) -> bool {
    value.len() == 40
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+')
        && value.bytes().any(|b| b.is_ascii_uppercase())
        && value.bytes().any(|b| b.is_ascii_lowercase())
}

/// The hex digits of a hex string (optionally `0x`-prefixed) or a UUID
/// (dashes removed: 32 digits).
fn hex_body(value: &str) -> Option<&str> {
    let body = value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
        .unwrap_or(value);
    if !body.is_empty() && body.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(body);
    }
    if UUID.is_match(value) {
        // Entropy and length are judged on the digits; the dashes are layout.
        return Some(value);
    }
    None
}

/// The generic shape: long, one word, base64/base64url alphabet, at least
/// three character classes, high entropy.
fn is_high_entropy_token(value: &str) -> bool {
    let is_symbol = |b: u8| matches!(b, b'+' | b'/' | b'=' | b'_' | b'-');
    if value.chars().count() < ENTROPY_MIN_LEN
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || is_symbol(b))
        || SRI_DIGEST.is_match(value)
    {
        return false;
    }
    let classes = [
        value.bytes().any(|b| b.is_ascii_uppercase()),
        value.bytes().any(|b| b.is_ascii_lowercase()),
        value.bytes().any(|b| b.is_ascii_digit()),
        value.bytes().any(is_symbol),
    ]
    .iter()
    .filter(|&&present| present)
    .count();
    classes >= 3
        && shannon_entropy(value) >= ENTROPY_MIN_BITS
        && !looks_like_words(value)
        && !is_base64_of_text(value)
}

/// Whether the whole value is base64 of printable text. Base64 of text has
/// as much character entropy as a random key (the encoding spreads any input
/// over the alphabet), so entropy cannot tell them apart, but the decoded
/// bytes can: random key material almost never decodes to valid UTF-8 free
/// of control characters.
fn is_base64_of_text(value: &str) -> bool {
    let (bytes, complete) = decode_base64(value);
    complete
        && !bytes.is_empty()
        && std::str::from_utf8(&bytes).is_ok_and(|text| {
            text.chars()
                .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        })
}

/// Shannon entropy of the value's characters, in bits per character.
fn shannon_entropy(s: &str) -> f64 {
    let mut counts: HashMap<char, usize> = HashMap::new();
    let mut total = 0usize;
    for c in s.chars() {
        *counts.entry(c).or_default() += 1;
        total += 1;
    }
    if total == 0 {
        return 0.0;
    }
    let n = total as f64;
    counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// If `value` is standard or url-safe base64 of a PEM block, its decoded
/// first line. `LS0tLS1CRUdJTi` is `-----BEGIN ` encoded; only enough of the
/// value to cover the header is decoded.
fn base64_pem_header(value: &str) -> Option<String> {
    if !value.starts_with("LS0tLS1CRUdJTi") {
        return None;
    }
    let head = value
        .char_indices()
        .nth(128)
        .map_or(value, |(end, _)| &value[..end]);
    let (bytes, _) = decode_base64(head);
    let text = String::from_utf8_lossy(&bytes);
    text.lines().next().map(str::to_owned)
}

/// Decodes standard or url-safe base64 (line breaks skipped) up to the first
/// character outside the alphabet. Returns the bytes and whether the input
/// was consumed to the end (trailing `=` padding allowed). Lenient on
/// purpose: it only answers "what does this look like", never feeds a value
/// anywhere.
fn decode_base64(s: &str) -> (Vec<u8>, bool) {
    let mut bytes = Vec::with_capacity(s.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for (i, c) in s.char_indices() {
        let sextet = match c {
            'A'..='Z' => u32::from(c) - u32::from('A'),
            'a'..='z' => u32::from(c) - u32::from('a') + 26,
            '0'..='9' => u32::from(c) - u32::from('0') + 52,
            '+' | '-' => 62,
            '/' | '_' => 63,
            '\n' | '\r' => continue,
            '=' => return (bytes, s[i..].chars().all(|c| c == '=')),
            _ => return (bytes, false),
        };
        acc = (acc << 6) | sextet;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.extend(u8::try_from(acc >> bits).ok());
            acc &= (1 << bits) - 1;
        }
    }
    (bytes, true)
}

/// Masks, in place, every scalar of `value` set under `key` that [`detect`]
/// recognises, at any depth: a list's items are judged under the list's key
/// (as `check --base` walks them), a mapping's entries under their own keys.
/// The one masking step for structured values on their way to any output
/// (`diff` in every format, `explain`, approval requests). Numbers are judged
/// as written, since a password may be all digits.
pub(crate) fn redact_json(key: &str, value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| redact_json(key, v)),
        Value::Object(entries) => entries.iter_mut().for_each(|(k, v)| redact_json(k, v)),
        Value::String(s) => {
            if detect(key, s).is_some() {
                *value = Value::String(mask(s));
            }
        }
        Value::Number(n) => {
            let text = n.to_string();
            if detect(key, &text).is_some() {
                *value = Value::String(mask(&text));
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
}

/// [`redact_json`] for a parsed document node (the YAML of `diff --text`).
pub(crate) fn redact_node(key: &str, node: &mut crate::config::document::Node) {
    use crate::config::document::Value;
    let text = match &mut node.value {
        Value::Seq(items) => {
            items.iter_mut().for_each(|n| redact_node(key, n));
            return;
        }
        Value::Map(entries) => {
            for e in entries {
                redact_node(&e.key, &mut e.value);
            }
            return;
        }
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(text) => text.clone(),
        Value::Float(f) => f.to_string(),
        _ => return,
    };
    if detect(key, &text).is_some() {
        node.value = Value::Str(mask(&text));
    }
}

/// [`redact_node`] over a whole effective config, keys as the last segment.
pub(crate) fn redact_config(config: &mut crate::config::effective::EffectiveConfig) {
    fn walk(children: &mut [(String, crate::config::effective::EffNode)]) {
        for (key, node) in children {
            match &mut node.value {
                crate::config::effective::EffValue::Map(inner) => walk(inner),
                crate::config::effective::EffValue::Leaf(leaf) => redact_node(key, leaf),
            }
        }
    }
    walk(&mut config.root);
}

/// `key: value` (YAML) or `"key": "value",` (JSON) on one line, a list dash
/// allowed before it, a comment after it.
static KEY_VALUE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"^\s*(?:-\s+)?["']?([^"'\s:#{}\[\],][^"':#{}\[\],]*?)["']?\s*:\s+(.*?)\s*(?:\s#.*)?$"#)
});
/// A URL with a password in its user info, through the end of its token.
static URL_TOKEN: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?i)\b[a-z][a-z0-9+.-]*://[^\s"'`<>,\]\}]+"#));

/// The parts of a line of free text (a snippet of a file that may not even
/// parse, a message) that look like credentials, as byte ranges with their
/// masked form, sorted and disjoint. Only evidence that needs no parse: the
/// named token formats, credential URLs, and a `key: value` line whose value
/// [`detect`] flags under its key. Lines over 64 KiB are left to the caller's
/// window (a snippet never shows more than a few hundred characters).
pub(crate) fn redactions_in_line(line: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let mut found: Vec<std::ops::Range<usize>> = Vec::new();
    if line.len() > 64 * 1024 {
        return Vec::new();
    }
    for (_, pattern) in NAMED.iter() {
        found.extend(
            pattern
                .find_iter(line)
                .filter(|m| shannon_entropy(m.as_str()) >= FILLER_MAX_BITS)
                .map(|m| m.range()),
        );
    }
    if line.contains("://") {
        found.extend(
            URL_TOKEN
                .find_iter(line)
                .filter(|m| url_has_credentials(m.as_str()))
                .map(|m| m.range()),
        );
    }
    if let Some(c) = KEY_VALUE_LINE.captures(line)
        && let (Some(key), Some(value)) = (c.get(1), c.get(2))
    {
        let mut range = value.range();
        let mut text = value.as_str();
        let quote = text.chars().next().filter(|c| matches!(c, '"' | '\''));
        if let Some(q) = quote {
            // A quoted value ends at its closing quote, whatever follows.
            let inner = text[1..].find(q).unwrap_or(text.len() - 1);
            text = &text[1..1 + inner];
            range = range.start + 1..range.start + 1 + inner;
        } else if let Some(stripped) = text.strip_suffix(',') {
            text = stripped;
            range.end -= 1;
        }
        if !text.is_empty() && detect(key.as_str(), text).is_some() {
            found.push(range);
        }
    }
    found.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
    let mut merged: Vec<std::ops::Range<usize>> = Vec::new();
    for r in found {
        match merged.last_mut() {
            Some(last) if r.start < last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
        .into_iter()
        .map(|r| {
            let masked = mask(&line[r.clone()]);
            (r, masked)
        })
        .collect()
}

/// `text` with [`redactions_in_line`] applied to each of its lines.
pub(crate) fn redact_text(text: &str) -> std::borrow::Cow<'_, str> {
    let mut out = String::new();
    let mut changed = false;
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut last = 0;
        for (range, masked) in redactions_in_line(line) {
            changed = true;
            out.push_str(&line[last..range.start]);
            out.push_str(&masked);
            last = range.end;
        }
        out.push_str(&line[last..]);
    }
    if changed {
        std::borrow::Cow::Owned(out)
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every sample below is fake: well-formed, randomly typed, never issued.
    // They are assembled with `concat!` so that secret scanners run over this
    // repository (and GitHub push protection) do not flag the test file.

    const AWS_ACCESS_KEY: &str = concat!("AKIA", "Z7QF3RMXW2KD4PLN");
    const AWS_SECRET_KEY: &str = concat!("Zt7bQ2x/Kp9LmR4v", "Wn8sYc3HdF6gJa1eTu5oNi0+");
    const GITHUB_PAT_CLASSIC: &str = concat!("ghp_", "R8mK2vQx7LpT4nWz9cYb3HdJf6Gs1AeU5oNi");
    const GITHUB_PAT_FINE: &str = concat!(
        "github_pat_",
        "11AZ7QF3R0Xk2LmP9vWqT4_",
        "bN8cYd3HfJ6gSa1eUo5iRt7ZxKw2Vy4Mp9Lq3Dn6Bh8Gj1Fk5Ce0As2Zr7Xu"
    );
    const SLACK_BOT_TOKEN: &str = concat!(
        "xoxb-",
        "2741936502-8462019375264-",
        "Qm7XvT2pLr9KsW4dNc8HbZ3f"
    );
    const SLACK_WEBHOOK: &str = concat!(
        "https://hooks.slack.com/services/",
        "T0A1B2C3D/B4E5F6G7H/",
        "Xk9mQ2vL7pRt4nWz8cYb3HdJ"
    );
    const GOOGLE_API_KEY: &str = concat!("AIza", "SyD7kQ2vLx9mP4tRw8nZc3bY6hJf1gUs5eA");
    const STRIPE_LIVE_KEY: &str = concat!("sk_", "live_", "51Hx7Q2kLm9vRt4WpZ8cYb3N");
    const STRIPE_RESTRICTED_KEY: &str = concat!("rk_", "live_", "51Hx7Q2kLm9vRt4WpZ8cYb3N");
    const JWT: &str = concat!(
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
        ".eyJzdWIiOiJyaW5nbWFzdGVyLXRlc3QiLCJpYXQiOjE3MDAwMDAwMDB9",
        ".Xk9mQ2vL7pRt4nWz8cYb3HdJf6Gs1AeU5oNiT0qE2rM"
    );
    const RANDOM_BASE64: &str = concat!("q8Zr3Kx/Vt7mPw2N", "c9Hb4Ld+Yf6Sj1Ga5Ue0Ti==");
    const RANDOM_HEX_64: &str = concat!(
        "9f86d081884c7d659a2feaa0c55ad015",
        "a3bf4f1b2b0b822cd15d6c15b0f00a08"
    );
    const PEM_BODY: &str = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDfakefakefake";

    fn pem(label: &str) -> String {
        format!("-----BEGIN {label}-----\n{PEM_BODY}\n-----END {label}-----\n")
    }

    #[test]
    fn private_key_blocks_fire_under_any_key() {
        for label in [
            "PRIVATE KEY",
            "RSA PRIVATE KEY",
            "EC PRIVATE KEY",
            "DSA PRIVATE KEY",
            "OPENSSH PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
            "PGP PRIVATE KEY BLOCK",
        ] {
            assert_eq!(
                detect("tls", &pem(label)),
                Some(SecretKind::PrivateKey),
                "{label}"
            );
        }
        // Embedded in a larger value, still a private key.
        let embedded = format!("# deploy key\n{}", pem("OPENSSH PRIVATE KEY"));
        assert_eq!(detect("notes", &embedded), Some(SecretKind::PrivateKey));
    }

    #[test]
    fn base64_wrapped_private_key_fires_but_certificate_does_not() {
        // base64 of "-----BEGIN RSA PRIVATE KEY-----\nMIIEfakefakefakefake\n"
        let key = "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFZmFrZWZha2VmYWtlZmFrZQo=";
        assert_eq!(detect("tls.key", key), Some(SecretKind::PrivateKey));
        // base64 of "-----BEGIN CERTIFICATE-----\nMIIBfakefakefakefake\n": public.
        let cert = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJmYWtlZmFrZWZha2VmYWtlCg==";
        assert!(shannon_entropy(cert) >= 4.2 && is_base64_of_text(cert));
        assert_eq!(detect("caBundle", cert), None);
    }

    #[test]
    fn public_pem_blocks_do_not_fire() {
        assert_eq!(detect("ca", &pem("CERTIFICATE")), None);
        assert_eq!(detect("verify_key", &pem("PUBLIC KEY")), None);
    }

    #[test]
    fn aws_access_key_id_fires_whole_or_as_a_token() {
        assert_eq!(detect("id", AWS_ACCESS_KEY), Some(SecretKind::AwsAccessKey));
        let sts = concat!("ASIA", "Q4W7E2R9T5Y3U8I1");
        assert_eq!(detect("creds", sts), Some(SecretKind::AwsAccessKey));
        let env_line = format!("AWS_ACCESS_KEY_ID={AWS_ACCESS_KEY} AWS_REGION=eu-west-1");
        assert_eq!(detect("env", &env_line), Some(SecretKind::AwsAccessKey));
        // Inside a longer upper-case run it is not a key id.
        let run = format!("X{AWS_ACCESS_KEY}Y");
        assert_ne!(detect("label", &run), Some(SecretKind::AwsAccessKey));
        // A documentation placeholder is not a key id.
        assert_eq!(detect("note", "AKIAXXXXXXXXXXXXXXXX"), None);
    }

    #[test]
    fn aws_secret_key_fires_only_under_an_aws_or_secret_key() {
        for key in [
            "aws_secret_access_key",
            "AWS_SECRET_ACCESS_KEY",
            "awsSecret",
            "secret",
        ] {
            assert_eq!(
                detect(key, AWS_SECRET_KEY),
                Some(SecretKind::AwsSecretKey),
                "{key}"
            );
        }
        // 40 characters of lower-case hex under an AWS key is a SHA, not this.
        assert_ne!(
            detect("aws_ami_build", "3f786850e387550fdab836ed7e6dc881de23001b"),
            Some(SecretKind::AwsSecretKey)
        );
    }

    #[test]
    fn github_tokens_fire() {
        assert_eq!(
            detect("token", GITHUB_PAT_CLASSIC),
            Some(SecretKind::GithubToken)
        );
        assert_eq!(detect("gh", GITHUB_PAT_FINE), Some(SecretKind::GithubToken));
        for prefix in ["gho_", "ghu_", "ghs_", "ghr_"] {
            let token = format!("{prefix}{}", &GITHUB_PAT_CLASSIC[4..]);
            assert_eq!(
                detect("x", &token),
                Some(SecretKind::GithubToken),
                "{prefix}"
            );
        }
        let remote = format!("https://x-access-token:{GITHUB_PAT_CLASSIC}@github.com/o/r.git");
        assert_eq!(detect("remote", &remote), Some(SecretKind::GithubToken));
        assert_eq!(
            detect("example", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
            None
        );
    }

    #[test]
    fn slack_tokens_and_webhooks_fire() {
        assert_eq!(
            detect("slack", SLACK_BOT_TOKEN),
            Some(SecretKind::SlackToken)
        );
        let user = concat!(
            "xoxp-",
            "2741936502-1937465028-8462019375264-",
            "9f86d081884c7d659a2feaa0c55ad015"
        );
        assert_eq!(detect("slack", user), Some(SecretKind::SlackToken));
        assert_eq!(
            detect("alerts", SLACK_WEBHOOK),
            Some(SecretKind::SlackWebhook)
        );
        // The placeholder from every README.
        assert_eq!(detect("slack_channel", "xoxb-your-token-here"), None);
    }

    #[test]
    fn google_stripe_and_jwt_fire() {
        assert_eq!(
            detect("maps", GOOGLE_API_KEY),
            Some(SecretKind::GoogleApiKey)
        );
        assert_eq!(
            detect("billing", STRIPE_LIVE_KEY),
            Some(SecretKind::StripeKey)
        );
        assert_eq!(
            detect("billing", STRIPE_RESTRICTED_KEY),
            Some(SecretKind::StripeKey)
        );
        assert_eq!(detect("auth_header", JWT), Some(SecretKind::Jwt));
        assert_eq!(
            detect("header", &format!("Bearer {JWT}")),
            Some(SecretKind::Jwt)
        );
    }

    #[test]
    fn stripe_test_keys_are_not_stripe_keys_but_still_tokens() {
        let test_key = concat!("sk_", "test_", "51Hx7Q2kLm9vRt4WpZ8cYb3N");
        assert_eq!(detect("stripe", test_key), Some(SecretKind::HighEntropy));
    }

    #[test]
    fn url_credentials_fire() {
        for url in [
            "postgres://app:Tr0ub4dor-3@db.internal:5432/app",
            "redis://:n0t-a-real-pw@cache:6379/0",
            "amqp://guest:guest@rabbit/",
            "https://api.example.com/v1/report?format=csv&access_token=q8Zr3KxVt7mPw2N",
            "https://api.example.com/v1?api_key=fake123",
        ] {
            assert_eq!(
                detect("url", url),
                Some(SecretKind::UrlCredentials),
                "{url}"
            );
        }
        // References and placeholders in the password position are fine.
        for url in [
            "postgres://app:${DB_PASSWORD}@db:5432/app",
            "postgres://app:****@db:5432/app",
            "https://api.example.com/v1?token={{ .Values.token }}",
        ] {
            assert_eq!(detect("url", url), None, "{url}");
        }
    }

    #[test]
    fn high_entropy_base64_fires_under_any_key() {
        assert_eq!(
            detect("upstream_header_value", RANDOM_BASE64),
            Some(SecretKind::HighEntropy)
        );
        let url_safe = concat!("Hk3_pQ9z-Lm2Wv7R", "t8Xc4Nb6Yd1Fg5Js0Ae");
        assert_eq!(detect("x", url_safe), Some(SecretKind::HighEntropy));
    }

    /// Recall of the generic rule on pseudo-random tokens: the 4.2 bits/char
    /// floor costs some 24-character tokens, almost none from 32 on.
    #[test]
    fn high_entropy_catches_nearly_all_random_tokens() {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            // xorshift64: deterministic, no dependency.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ALPHABET[(state % 64) as usize] as char
        };
        for (len, min_hits) in [(32, 970), (40, 990)] {
            let hits = (0..1000)
                .filter(|_| {
                    let token: String = (0..len).map(|_| next()).collect();
                    detect("value", &token) == Some(SecretKind::HighEntropy)
                })
                .count();
            assert!(hits >= min_hits, "{len} chars: {hits}/1000");
        }
    }

    #[test]
    fn identifiers_and_encoded_text_are_not_tokens() {
        // Three classes and over 4.2 bits/char: only the words test saves them.
        for value in [
            "ThisIsAVeryLongClassNameForTesting2",
            "MyServiceV2HandlerFactoryImpl2024",
        ] {
            assert!(shannon_entropy(value) >= 4.2, "{value}");
            assert_eq!(detect("class", value), None, "{value}");
        }
        // base64 of "ringmaster config banner", "Welcome to ringmaster!" and
        // "The quick brown fox jumps over": as much entropy as a key.
        for value in [
            "cmluZ21hc3RlciBjb25maWcgYmFubmVy",
            "V2VsY29tZSB0byByaW5nbWFzdGVyIQ==",
            "VGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcyBvdmVy",
        ] {
            assert!(shannon_entropy(value) >= 4.2, "{value}");
            assert_eq!(detect("banner", value), None, "{value}");
        }
    }

    #[test]
    fn hex_fires_only_with_a_secret_sounding_key() {
        for key in [
            "signing_key",
            "hmacKey",
            "webhook-secret-value",
            "auth",
            "credentials",
            "encryption_key",
            "session_signature",
            "db_creds",
            "cred",
            "request_sig",
            "key",
            "keys",
        ] {
            assert_eq!(
                detect(key, RANDOM_HEX_64),
                Some(SecretKind::HighEntropy),
                "{key}"
            );
        }
        let eth = format!("0x{RANDOM_HEX_64}");
        assert_eq!(
            detect("signer_private", &eth),
            Some(SecretKind::HighEntropy)
        );
        assert_eq!(
            detect("api_key", "123e4567-e89b-12d3-a456-426614174000"),
            Some(SecretKind::HighEntropy)
        );
        for key in [
            "checksum",
            "sha256",
            "digest",
            "cache_key",
            "partition_key",
            "kms_key",
            "author",
            "build",
            "key_fingerprint",
            "token_hash",
            "public_key",
        ] {
            assert_eq!(detect(key, RANDOM_HEX_64), None, "{key}");
        }
        // Too short, or filler.
        assert_eq!(detect("signing_key_version", "9f86d081884c7d65"), None);
        assert_eq!(detect("hmac", "00000000000000000000000000000000"), None);
    }

    #[test]
    fn password_literals_fire_across_key_spellings() {
        for key in [
            "password",
            "PASSWORD",
            "db_password",
            "dbPassword",
            "DB-PASSWORD",
            "dbpassword",
            "passwd",
            "pwd",
            "admin_passphrase",
            "secret",
            "client_secret",
            "clientSecret",
            "token",
            "auth_token",
            "api_key",
            "apiKey",
            "API-KEY",
            "apikey",
            "private_key",
            "access_key",
            "SECRET_KEY",
        ] {
            assert_eq!(
                detect(key, "hunter2-staging"),
                Some(SecretKind::PasswordLiteral),
                "{key}"
            );
        }
        // Short, numeric and dollar-led literals are still literals.
        assert_eq!(detect("password", "a1"), Some(SecretKind::PasswordLiteral));
        assert_eq!(
            detect("pin_pwd", "123456"),
            Some(SecretKind::PasswordLiteral)
        );
        assert_eq!(
            detect("password", "$ecret123"),
            Some(SecretKind::PasswordLiteral)
        );
    }

    /// A reference or a placeholder needs its whole shape: half of one is
    /// a literal like any other (`{{` without `}}`, `<` without `>`).
    #[test]
    fn half_a_reference_or_placeholder_is_a_literal() {
        for value in ["hunter{{2", "hunter}}2", "<hunter2", "hunter2>"] {
            assert_eq!(
                detect("password", value),
                Some(SecretKind::PasswordLiteral),
                "{value}"
            );
        }
        assert_eq!(detect("password", "{{ vault_pw }}"), None);
        assert_eq!(detect("password", "<hunter2>"), None);
    }

    /// Both base64 alphabets decode alike, line breaks are skipped, and
    /// padding may only end the text.
    #[test]
    fn base64_decodes_both_alphabets_across_line_breaks() {
        let three = |c: u8| vec![c; 3];
        assert_eq!(decode_base64("Pz8/"), (three(b'?'), true));
        assert_eq!(decode_base64("Pz8_"), (three(b'?'), true));
        assert_eq!(decode_base64("Pj4+"), (three(b'>'), true));
        assert_eq!(decode_base64("Pj4-"), (three(b'>'), true));
        assert_eq!(decode_base64("Pz8/\r\nPj4+"), (b"???>>>".to_vec(), true));
        assert_eq!(decode_base64("aGk="), (b"hi".to_vec(), true));
        assert_eq!(decode_base64("aGk=aGk="), (b"hi".to_vec(), false));
        assert_eq!(decode_base64("aGk!"), (b"hi".to_vec(), false));
        // Text encoded with `+` and `/` in it is text, not a token.
        assert!(is_base64_of_text("Pz8/Pj4+"));
    }

    /// Masking a parsed document and a whole effective config (what `diff`
    /// prints as YAML): each scalar its key marks, at any depth and in
    /// lists, numbers judged as written; nothing else changes.
    #[test]
    fn documents_and_effective_configs_are_masked_at_any_depth() {
        use crate::config::document::parse_fixture;
        let text = format!(
            "db:\n  password: hunter2\n  port: 5432\npins: {{password: 123456}}\nbig: {{secret: 123456789012345678901234567890}}\nf: {{password: 1.5}}\ntokens: [{AWS_ACCESS_KEY}, web]\nname: web\n"
        );
        let expected = serde_json::json!({
            "db": {"password": "•••(7 chars)", "port": 5432},
            "pins": {"password": "•••(6 chars)"},
            "big": {"secret": "1234…(30 chars)"},
            "f": {"password": "•••(3 chars)"},
            "tokens": ["AKIA…(20 chars)", "web"],
            "name": "web",
        });
        let mut doc = parse_fixture(&text);
        redact_node("", &mut doc);
        assert_eq!(doc.to_json(), expected);

        let doc = parse_fixture(&text);
        let crate::config::document::Value::Map(entries) = &doc.value else {
            panic!("a mapping");
        };
        let origin = crate::config::merge::Origin {
            file: "l.yaml".into(),
            key_pos: crate::diag::Pos::START,
            value_pos: crate::diag::Pos::START,
            layer: 1,
        };
        let mut config = crate::config::effective::EffectiveConfig {
            class: "c".into(),
            root: entries
                .iter()
                .map(|e| {
                    (
                        e.key.clone(),
                        crate::config::merge::eff_of(&e.value, origin.clone()),
                    )
                })
                .collect(),
            layers: Vec::new(),
        };
        redact_config(&mut config);
        assert_eq!(config.to_json(), expected);
    }

    /// The generic token's length floor: 24 characters are enough, 23 not.
    #[test]
    fn a_token_at_the_length_floor_is_judged() {
        let token = &RANDOM_BASE64[..ENTROPY_MIN_LEN];
        assert!(is_high_entropy_token(token), "{token}");
        assert!(!is_high_entropy_token(&token[1..]), "{token}");
    }

    #[test]
    fn references_and_placeholders_are_not_literals() {
        for value in [
            "${DB_PASSWORD}",
            "${{ secrets.DB_PASSWORD }}",
            "$DB_PASSWORD",
            "{{ .Values.db.password }}",
            "{{ vault \"secret/db\" }}",
            "%(db_password)s",
            "env:DB_PASSWORD",
            "vault:secret/data/db#password",
            "secret:db-creds/password",
            "ref+vault://secret/db#/password",
            "ref+awssecrets://prod/db",
            "sops:db.enc.yaml#password",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf",
            "arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/db/password",
            "projects/my-project/secrets/db-password/versions/latest",
            "file:/run/secrets/db_password",
            "/run/secrets/db_password",
            "op://prod/db/password",
            "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/db/)",
            "changeme",
            "CHANGEME",
            "xxx",
            "XXXXXXXX",
            "***",
            "<redacted>",
            "<your-password-here>",
            "TODO",
            "none",
            "null",
            "~",
            "false",
            "true",
            "",
            "   ",
        ] {
            assert_eq!(detect("password", value), None, "{value:?}");
        }
    }

    #[test]
    fn ordinary_values_do_not_fire() {
        let cases: &[(&str, &str)] = &[
            // Hosts and URLs without credentials.
            ("host", "db.internal.example.com"),
            ("endpoint", "https://api.example.com"),
            (
                "upstream",
                "https://api.example.com/v1/items/42?page=2&sort=desc&fields=id,name",
            ),
            (
                "callback",
                "https://auth.example.com/oauth2/callback?state=abc&redirect=%2Fhome",
            ),
            (
                "git_remote",
                "https://deploy@git.example.com/team/service.git",
            ),
            ("clone", "git@github.com:example/ringmaster.git"),
            ("proxy", "http://proxy.internal:3128"),
            (
                "dsn_template",
                "postgres://db.internal:5432/app?sslmode=require",
            ),
            // Versions, durations, schedules, networks.
            ("version", "1.24.3"),
            ("chart_version", "v2.0.0-rc.1+build.20240501"),
            ("timeout", "30s"),
            ("interval", "1h30m"),
            ("schedule", "*/5 * * * *"),
            ("cron", "0 3 * * MON-FRI"),
            ("cidr", "10.128.0.0/16"),
            ("ipv6", "2001:db8::/32"),
            ("port", "8443"),
            // Paths and identifiers.
            ("data_dir", "/var/lib/ringmaster/data"),
            ("config", "/etc/ringmaster/conf.d/20-overrides.yaml"),
            ("release_dir", "/opt/app-v2/releases/2024_01_15-rc3"),
            ("windows_path", "C:\\Program Files\\Ringmaster\\bin"),
            ("request_id", "123e4567-e89b-12d3-a456-426614174000"),
            ("tenant", "9b2f4c1e-7d3a-4e8b-a5c6-0f1e2d3c4b5a"),
            ("revision", "3f786850e387550fdab836ed7e6dc881de23001b"),
            ("commit", "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"),
            ("checksum", RANDOM_HEX_64),
            (
                "image",
                "registry.example.com/team/app@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            ),
            (
                "integrity",
                "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==",
            ),
            (
                "lockfile_entry",
                "sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC",
            ),
            ("k8s_name", "payments-api-prod-eu-west-1-canary-7d9f8"),
            ("release_name", "ringmaster-2024-05-01-hotfix-3"),
            ("ulid", "01HGW2N7EZJ8X5Q3KQ0M3F9Y8T"),
            ("ami", "ami-0abcdef1234567890"),
            ("class", "ThisIsAVeryLongClassNameForTesting"),
            ("grant", "OAuth2ClientCredentialsGrant_v1"),
            ("autoscaler", "K8sClusterAutoscalerConfigV2"),
            ("handler", "com.example.payments.PaymentServiceHandler"),
            ("env_var_name", "RINGMASTER_DATABASE_CONNECTION_POOL_SIZE"),
            ("feature", "enable_new_checkout_flow_for_eu_tenants_v2"),
            // Base64 of short text, numbers, booleans.
            ("greeting", "aGVsbG8gd29ybGQ="),
            ("banner", "cmluZ21hc3RlciBjb25maWcgYmFubmVy"),
            ("motd_b64", "V2VsY29tZSB0byByaW5nbWFzdGVyIQ=="),
            ("replicas", "3"),
            ("ratio", "0.25"),
            ("enabled", "true"),
            // Log formats and sentences.
            ("log_format", "%h %l %u %t \"%r\" %>s %b"),
            (
                "pattern",
                "[%(asctime)s] %(levelname)s %(name)s: %(message)s",
            ),
            ("template", "{time} {level} {target}: {message}"),
            (
                "description",
                "Payments API, canary ring, owned by team-payments.",
            ),
            (
                "motd",
                "Welcome to the staging environment; please be gentle.",
            ),
            // Key names near the secret vocabulary.
            ("password", "${DB_PASSWORD}"),
            ("password", "vault:secret/data/db#password"),
            ("token_ttl", "3600"),
            ("password_min_length", "12"),
            ("min_password_length", "12"),
            ("secret_name", "db-creds"),
            ("secretName", "db-creds"),
            ("existingSecret", "db-creds"),
            ("password_file", "/run/secrets/db"),
            ("passwordFile", "secrets/db.txt"),
            ("token_url", "https://auth.example.com/oauth/token"),
            ("tokenEndpoint", "https://auth.example.com/oauth/token"),
            ("client_id", "ringmaster-ci"),
            ("key_id", "kms-key-2024"),
            ("password_policy", "strong"),
            ("token_expiry_seconds", "900"),
            ("auth_method", "oidc"),
            (
                "public_key",
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFake ci@example",
            ),
            (
                "host_public_key",
                "AAAAC3NzaC1lZDI1NTE5AAAAIFq8Zr3KxVt7mPw2Nc9Hb4LdYf6Sj1Ga5Ue0",
            ),
            ("author", "Jane Doe <jane@example.com>"),
            ("cache_key", "user:{id}:profile"),
        ];
        for (key, value) in cases {
            assert_eq!(detect(key, value), None, "{key}: {value}");
        }
    }

    #[test]
    fn key_names_split_on_separators_and_camel_case() {
        let words = |k: &str| KeyName::parse(k).words;
        assert_eq!(words("db_password"), ["db", "password"]);
        assert_eq!(words("dbPassword"), ["db", "password"]);
        assert_eq!(words("AWSSecretKey"), ["aws", "secret", "key"]);
        assert_eq!(words("API_KEY"), ["api", "key"]);
        assert_eq!(words("client-secret.value"), ["client", "secret", "value"]);
        assert_eq!(words("db2Password"), ["db2", "password"]);
        assert!(words("").is_empty());
    }

    #[test]
    fn entropy_is_shannon_bits_per_char() {
        assert_eq!(shannon_entropy(""), 0.0);
        assert_eq!(shannon_entropy("aaaa"), 0.0);
        assert!((shannon_entropy("abab") - 1.0).abs() < 1e-9);
        assert!((shannon_entropy("abcdefgh") - 3.0).abs() < 1e-9);
    }

    #[test]
    fn detect_survives_odd_input() {
        for value in [
            "\u{0}",
            "ünïcödé-pässwörd-with-ümlauts-😀😀😀",
            "-----BEGIN",
            "LS0tLS1CRUdJTi",
            "LS0tLS1CRUdJTi!!!",
            "://",
            ":@",
            "%(",
            "0x",
        ] {
            let _ = detect("password", value);
            let _ = detect("", value);
            let _ = mask(value);
        }
        let long = "a1B2".repeat(100_000);
        assert_eq!(detect("blob", &long), None);
    }

    #[test]
    fn every_kind_has_a_description_and_an_id() {
        for kind in SecretKind::ALL {
            let d = kind.describe();
            assert!(d.starts_with("a ") || d.starts_with("an "), "{d}");
            assert_eq!(kind.to_string(), d);
            assert!(
                kind.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-')
            );
        }
    }

    #[test]
    fn redact_json_masks_at_any_depth_under_the_nearest_key() {
        let mut value = serde_json::json!({
            "hosts": ["db.internal", format!("postgres://app:{}@db/app", "Tr0ub4dor-3")],
            "backends": [{"name": "primary", "password": "hunter2-staging"}],
            "pins": [[{"api_key": 123456}]],
            "port": 8080,
        });
        redact_json("root", &mut value);
        assert_eq!(value["hosts"][0], "db.internal");
        assert_eq!(value["hosts"][1], "post…(33 chars)");
        assert_eq!(value["backends"][0]["name"], "primary");
        assert_eq!(value["backends"][0]["password"], "•••(15 chars)");
        assert_eq!(value["pins"][0][0]["api_key"], "•••(6 chars)");
        assert_eq!(value["port"], 8080);
    }

    #[test]
    fn a_masked_value_is_not_masked_again() {
        for value in [AWS_ACCESS_KEY, "hunter2", GITHUB_PAT_CLASSIC] {
            let masked = mask(value);
            assert_eq!(detect("password", &masked), None, "{masked}");
            assert!(redactions_in_line(&format!("token: {masked}")).is_empty());
        }
    }

    #[test]
    fn redactions_in_a_line_need_no_parse() {
        let line = format!(
            "db: \"postgres://app:{}@db:5432/app\" trailing",
            "Tr0ub4dor-3"
        );
        let found = redactions_in_line(&line);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            &line[found[0].0.clone()],
            "postgres://app:Tr0ub4dor-3@db:5432/app"
        );
        let line = "  - password: 'hunter2-staging' # old";
        let found = redactions_in_line(line);
        assert_eq!(&line[found[0].0.clone()], "hunter2-staging");
        assert!(redactions_in_line("name: api # a comment").is_empty());
        assert_eq!(
            redact_text(&format!("token {GITHUB_PAT_CLASSIC} here")),
            "token ghp_…(40 chars) here"
        );
        // A quoted value ends at its quote; an unquoted one before a comma;
        // one whose quote never closes runs to the line's end.
        for (line, secret) in [
            (
                "\"password\": \"hunter2-staging\", \"user\": \"app\"",
                "hunter2-staging",
            ),
            ("password: 'hunter2-staging'", "hunter2-staging"),
            ("password: hunter2-staging,", "hunter2-staging"),
            ("password: \"hunter2-staging", "hunter2-staging"),
        ] {
            let found = redactions_in_line(line);
            assert_eq!(found.len(), 1, "{line}: {found:?}");
            assert_eq!(&line[found[0].0.clone()], secret, "{line}");
        }
        // The quoted value is judged without its quotes: a quoted
        // placeholder is no secret.
        assert!(redactions_in_line("password: \"<changeme>\"").is_empty());
        // Lines up to 64 KiB are read whole; longer ones are left to the
        // caller's window.
        for (len, masked) in [(2_000, true), (64 * 1024, true), (64 * 1024 + 1, false)] {
            let line = format!("{GITHUB_PAT_CLASSIC} {}", "x".repeat(len - 41));
            assert_eq!(line.len(), len);
            assert_eq!(!redactions_in_line(&line).is_empty(), masked, "{len}");
        }
        // Each line on its own, the line breaks kept; two secrets on one
        // line are two masks, the text between them kept.
        assert_eq!(
            redact_text(&format!(
                "first\nkey {AWS_ACCESS_KEY} and {GITHUB_PAT_CLASSIC}\nlast"
            )),
            "first\nkey AKIA…(20 chars) and ghp_…(40 chars)\nlast"
        );
    }

    #[test]
    fn mask_keeps_a_short_prefix_of_long_values() {
        assert_eq!(mask(AWS_ACCESS_KEY), "AKIA…(20 chars)");
        assert_eq!(mask("hunter2"), "•••(7 chars)");
        assert_eq!(mask("x"), "•••(1 char)");
        assert_eq!(mask(""), "•••(0 chars)");
        // The 16-character threshold.
        assert_eq!(mask("abcdefghijklmno"), "•••(15 chars)");
        assert_eq!(mask("abcdefghijklmnop"), "abcd…(16 chars)");
        // Length in characters, not bytes.
        assert_eq!(mask("pässwörd-ünïcode"), "päss…(16 chars)");
        // No prefix that would break a one-line report.
        assert_eq!(mask("\n  indented-secret-value"), "•••(24 chars)");
        // A space (whitespace, not a control) or an escape (a control, not
        // whitespace) among the first four characters: no prefix either.
        assert_eq!(mask("ab cdefghijklmnopq"), "•••(18 chars)");
        assert_eq!(mask("\u{1b}[31mred-secret-value"), "•••(21 chars)");
    }

    #[test]
    fn mask_never_shows_a_private_key() {
        let block = pem("RSA PRIVATE KEY");
        let masked = mask(&block);
        assert_eq!(masked, format!("•••({} chars)", block.chars().count()));
        let b64 = "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFZmFrZWZha2VmYWtlZmFrZQo=";
        assert!(mask(b64).starts_with("•••("));
    }

    #[test]
    fn mask_leaks_at_most_four_characters() {
        let pem_block = pem("OPENSSH PRIVATE KEY");
        let samples = [
            AWS_ACCESS_KEY,
            AWS_SECRET_KEY,
            GITHUB_PAT_CLASSIC,
            GITHUB_PAT_FINE,
            SLACK_BOT_TOKEN,
            SLACK_WEBHOOK,
            GOOGLE_API_KEY,
            STRIPE_LIVE_KEY,
            JWT,
            RANDOM_BASE64,
            RANDOM_HEX_64,
            "postgres://app:Tr0ub4dor-3@db.internal:5432/app",
            "hunter2",
            pem_block.as_str(),
        ];
        for value in samples {
            let masked = mask(value);
            let chars: Vec<char> = value.chars().collect();
            for window in chars.windows(MASK_KEEP + 1) {
                let piece: String = window.iter().collect();
                assert!(!masked.contains(&piece), "{masked} leaks {piece}");
            }
            assert!(
                masked.ends_with(&format!("({} chars)", chars.len())),
                "{masked}"
            );
            let kept = masked.split('…').next().unwrap_or_default();
            assert!(
                masked.starts_with("•••(") || kept.chars().count() <= MASK_KEEP,
                "{masked}"
            );
        }
    }
}
