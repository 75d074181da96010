#include "server/access/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace gwo::server {
namespace {

constexpr size_t kLookupBytes = 8;
constexpr size_t kSecretBytes = 32;
constexpr size_t kSaltBytes = 16;
constexpr char kUserPrefix[] = "gwo_";
constexpr char kWorkerPrefix[] = "gwow_";

absl::StatusOr<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return absl::InternalError("OpenSSL could not produce random bytes");
  }
  return out;
}

std::string Sha256(std::string_view salt, std::string_view secret) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, salt.data(), salt.size());
  EVP_DigestUpdate(ctx, secret.data(), secret.size());
  EVP_DigestFinal_ex(ctx, digest, &size);
  EVP_MD_CTX_free(ctx);
  return std::string(reinterpret_cast<const char*>(digest), size);
}

bool IsLowerHex(std::string_view s, size_t size) {
  if (s.size() != size) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<IssuedToken> IssueToken(TokenKind kind, const std::string& user, const std::string& name,
                                       const std::string& created_by, std::optional<absl::Time> expires_at) {
  absl::StatusOr<std::string> lookup = RandomBytes(kLookupBytes);
  absl::StatusOr<std::string> secret = RandomBytes(kSecretBytes);
  absl::StatusOr<std::string> salt = RandomBytes(kSaltBytes);
  if (!lookup.ok()) return lookup.status();
  if (!secret.ok()) return secret.status();
  if (!salt.ok()) return salt.status();
  IssuedToken out;
  const std::string secret_hex = absl::BytesToHexString(*secret);
  out.record.kind = kind;
  out.record.user = kind == TokenKind::kUser ? user : "";
  out.record.name = name;
  out.record.lookup = absl::BytesToHexString(*lookup);
  out.record.salt_hex = absl::BytesToHexString(*salt);
  out.record.hash_hex = absl::BytesToHexString(Sha256(*salt, secret_hex));
  out.record.created_by = created_by;
  out.record.expires_at = expires_at;
  out.text = absl::StrCat(kind == TokenKind::kWorker ? kWorkerPrefix : kUserPrefix, out.record.lookup, "_", secret_hex);
  return out;
}

absl::StatusOr<ParsedToken> ParseToken(std::string_view text) {
  ParsedToken out;
  if (text.substr(0, sizeof(kWorkerPrefix) - 1) == kWorkerPrefix) {
    out.kind = TokenKind::kWorker;
    text.remove_prefix(sizeof(kWorkerPrefix) - 1);
  } else if (text.substr(0, sizeof(kUserPrefix) - 1) == kUserPrefix) {
    out.kind = TokenKind::kUser;
    text.remove_prefix(sizeof(kUserPrefix) - 1);
  } else {
    return absl::InvalidArgumentError("not a gwo token (they start with gwo_ or gwow_)");
  }
  const size_t sep = text.find('_');
  if (sep == std::string_view::npos || !IsLowerHex(text.substr(0, sep), 2 * kLookupBytes) ||
      !IsLowerHex(text.substr(sep + 1), 2 * kSecretBytes)) {
    return absl::InvalidArgumentError("malformed gwo token (expected <prefix>_<16 hex>_<64 hex>)");
  }
  out.lookup = std::string(text.substr(0, sep));
  out.secret = std::string(text.substr(sep + 1));
  return out;
}

bool SecretMatches(const ParsedToken& token, const TokenRecord& stored) {
  const std::string salt = absl::HexStringToBytes(stored.salt_hex);
  const std::string expected = absl::HexStringToBytes(stored.hash_hex);
  const std::string actual = Sha256(salt, token.secret);
  if (expected.size() != actual.size() || actual.empty()) return false;
  return CRYPTO_memcmp(expected.data(), actual.data(), actual.size()) == 0;
}

}  // namespace gwo::server
