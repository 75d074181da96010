#include "worker/generate/text_stream.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace gwo::generate {
namespace {

// Feeds `pieces` one at a time (as tokens arrive) and returns what was sent and
// whether a stop string ended it.
std::pair<std::string, bool> Stream(const std::vector<std::string>& stops,
                                    const std::vector<std::string>& pieces) {
  TextStream stream(stops);
  std::string decoded, sent;
  for (const std::string& piece : pieces) {
    decoded += piece;
    TextStream::Update u = stream.Next(decoded);
    sent += u.text;
    if (u.stopped) return {sent, true};
  }
  sent += stream.Finish(decoded);
  return {sent, false};
}

TEST(TextStream, SendsEverythingWithoutStops) {
  EXPECT_EQ(Stream({}, {"Hel", "lo", " world"}), std::make_pair(std::string("Hello world"), false));
}

TEST(TextStream, StopsBeforeAStopStringSplitAcrossTokens) {
  EXPECT_EQ(Stream({"\n\n"}, {"line one\n", "\nline two"}),
            std::make_pair(std::string("line one"), true));
  EXPECT_EQ(Stream({"END"}, {"abc E", "N", "Dxyz"}), std::make_pair(std::string("abc "), true));
}

TEST(TextStream, HoldsBackAPossibleStopPrefixThenReleasesIt) {
  TextStream stream({"STOP"});
  EXPECT_EQ(stream.Next("go ST").text, "go ");  // "ST" may become "STOP"
  EXPECT_EQ(stream.Next("go STA").text, "STA");
  EXPECT_EQ(stream.sent(), "go STA");
}

TEST(TextStream, TheEarliestOfSeveralStopsWins) {
  EXPECT_EQ(Stream({"b", "a"}, {"xxab"}), std::make_pair(std::string("xx"), true));
}

TEST(TextStream, HoldsAnIncompleteUtf8SequenceUntilItCompletes) {
  TextStream stream({});
  const std::string euro = "\xE2\x82\xAC";  // U+20AC in three bytes
  EXPECT_EQ(stream.Next("a\xE2").text, "a");
  EXPECT_EQ(stream.Next("a\xE2\x82").text, "");
  EXPECT_EQ(stream.Next("a" + euro).text, euro);
}

TEST(TextStream, ReplacesInvalidBytesAndAnUnfinishedTail) {
  EXPECT_EQ(SanitizeUtf8("a\xFF" "b", /*hold_tail=*/true), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(SanitizeUtf8("a\x80", /*hold_tail=*/true), "a\xEF\xBF\xBD");  // lone continuation
  size_t used = 0;
  EXPECT_EQ(SanitizeUtf8("ab\xE2\x82", /*hold_tail=*/true, &used), "ab");
  EXPECT_EQ(used, 2u);
  EXPECT_EQ(SanitizeUtf8("ab\xE2\x82", /*hold_tail=*/false), "ab\xEF\xBF\xBD\xEF\xBF\xBD");
  TextStream stream({});
  EXPECT_EQ(stream.Next("x\xE2\x82").text, "x");
  EXPECT_EQ(stream.Finish("x\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace gwo::generate
