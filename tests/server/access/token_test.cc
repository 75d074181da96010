// Tokens: what is stored never reveals the secret, and only the exact text matches.
#include "server/access/token.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace gwo::server {
namespace {

TokenRecord Stored(const IssuedToken& t) {
  TokenRecord r;
  r.kind = t.record.kind;
  r.lookup = t.record.lookup;
  r.salt_hex = t.record.salt_hex;
  r.hash_hex = t.record.hash_hex;
  return r;
}

TEST(TokenTest, IssuedTokenParsesAndMatchesItsStoredHashOnly) {
  IssuedToken t = IssueToken(TokenKind::kUser, "ana", "laptop", "admin", std::nullopt).value();
  EXPECT_TRUE(absl::StartsWith(t.text, "gwo_"));
  absl::StatusOr<ParsedToken> parsed = ParseToken(t.text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->kind, TokenKind::kUser);
  EXPECT_EQ(parsed->lookup, t.record.lookup);
  EXPECT_TRUE(SecretMatches(*parsed, Stored(t)));
  // Nothing stored contains the secret.
  EXPECT_FALSE(absl::StrContains(t.record.hash_hex, parsed->secret));
  EXPECT_FALSE(absl::StrContains(t.record.salt_hex, parsed->secret));
  EXPECT_EQ(t.record.hash_hex.size(), 64u);
  EXPECT_EQ(t.record.salt_hex.size(), 32u);

  // One changed digit of the secret, or another token's hash, does not match.
  ParsedToken wrong = *parsed;
  wrong.secret[10] = wrong.secret[10] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(SecretMatches(wrong, Stored(t)));
  IssuedToken other = IssueToken(TokenKind::kUser, "ana", "laptop", "admin", std::nullopt).value();
  EXPECT_FALSE(SecretMatches(*parsed, Stored(other)));
  EXPECT_NE(other.record.salt_hex, t.record.salt_hex) << "every token has its own salt";
  EXPECT_NE(other.record.lookup, t.record.lookup);
}

TEST(TokenTest, WorkerTokensCarryTheirKind) {
  IssuedToken t = IssueToken(TokenKind::kWorker, "", "rack-1", "admin", std::nullopt).value();
  EXPECT_TRUE(absl::StartsWith(t.text, "gwow_"));
  EXPECT_EQ(ParseToken(t.text)->kind, TokenKind::kWorker);
  EXPECT_TRUE(t.record.user.empty());
}

TEST(TokenTest, MalformedTextIsRefusedWithoutEchoingIt) {
  const std::string good = IssueToken(TokenKind::kUser, "ana", "x", "admin", std::nullopt).value().text;
  for (const std::string& bad : {std::string(""), std::string("Bearer"), std::string("gwo_"), good.substr(0, 40),
                                 good + "0", std::string("gwx_") + good.substr(4),
                                 good.substr(0, 4) + "ABCDEF0123456789" + good.substr(20)}) {
    absl::StatusOr<ParsedToken> p = ParseToken(bad);
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    if (bad.size() > 8) EXPECT_FALSE(absl::StrContains(p.status().message(), bad)) << bad;
  }
}

}  // namespace
}  // namespace gwo::server
