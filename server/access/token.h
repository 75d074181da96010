// gwo's bearer tokens: "gwo_<lookup>_<secret>" for users, "gwow_<lookup>_<secret>" for
// workers. The lookup key (16 hex digits) finds the stored row; the secret (64 hex
// digits, 256 random bits) is never stored: only sha256(salt || secret) with a random
// 16-byte salt, compared in constant time. No gRPC here.
#ifndef GWO_SERVER_ACCESS_TOKEN_H_
#define GWO_SERVER_ACCESS_TOKEN_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/store.h"

namespace gwo::server {

// A token made now: its text (shown once, to whoever asked for it) and what to store.
struct IssuedToken {
  std::string text;
  NewToken record;
};

// A new random token. `user` for a user token; `expires_at` nullopt: never.
absl::StatusOr<IssuedToken> IssueToken(TokenKind kind, const std::string& user, const std::string& name,
                                       const std::string& created_by, std::optional<absl::Time> expires_at);

struct ParsedToken {
  TokenKind kind = TokenKind::kUser;
  std::string lookup;
  std::string secret;
};

// The parts of a token's text. INVALID_ARGUMENT (saying what is wrong, never echoing
// the text) when it is not of gwo's form.
absl::StatusOr<ParsedToken> ParseToken(std::string_view text);

// True when the secret hashes, with the stored salt, to the stored hash (constant time).
bool SecretMatches(const ParsedToken& token, const TokenRecord& stored);

}  // namespace gwo::server

#endif  // GWO_SERVER_ACCESS_TOKEN_H_
