// The routing index against the definition of matching (TopicFilter): the
// same answer for every topic, as subscriptions come and go.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "lantoa/names.h"
#include "routing/subject_index.h"

namespace lantoa::testing {
namespace {

using broker::SubjectIndex;

std::vector<uint64_t> match(const SubjectIndex& index, std::string_view topic) {
  std::vector<uint64_t> out;
  index.match(topic, out);
  return out;
}

TEST(SubjectIndex, LiteralsWildcardsAndSystemTopics) {
  SubjectIndex index;
  index.add(1, "vn.gov.press");
  index.add(2, "vn.*.press");
  index.add(3, "vn.>");
  index.add(4, ">");
  index.add(5, "*.gov.press");
  index.add(6, "$trust.revocations");
  index.add(7, "vn.gov");
  EXPECT_EQ(match(index, "vn.gov.press"), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(match(index, "vn.gov"), (std::vector<uint64_t>{3, 4, 7}));
  EXPECT_EQ(match(index, "vn"), (std::vector<uint64_t>{4}));  // ">" needs one more label
  EXPECT_EQ(match(index, "vn.qn.halong.news"), (std::vector<uint64_t>{3, 4}));
  // Wildcards at the first level never match a system topic.
  EXPECT_EQ(match(index, "$trust.revocations"), (std::vector<uint64_t>{6}));
  EXPECT_TRUE(match(index, "la.gov.x").size() == 1);  // only ">"
  // Nor at any level an inbox: only a filter naming "$inbox" matches it.
  index.add(8, "vn.gov.$inbox.>");
  index.add(9, "vn.*.$inbox.vn.qn");
  EXPECT_EQ(match(index, "vn.gov.$inbox.vn.qn"), (std::vector<uint64_t>{8, 9}));
}

TEST(SubjectIndex, ASubscriptionWithTwoMatchingFiltersIsFoundOnceAndKeepsTheOther) {
  SubjectIndex index;
  index.add(9, "vn.gov.press");
  index.add(9, "vn.gov.*");
  EXPECT_EQ(match(index, "vn.gov.press"), (std::vector<uint64_t>{9}));
  index.remove(9, "vn.gov.press");
  EXPECT_EQ(match(index, "vn.gov.press"), (std::vector<uint64_t>{9}));
  index.remove(9, "vn.gov.*");
  EXPECT_TRUE(match(index, "vn.gov.press").empty());
  EXPECT_EQ(index.filters(), 0u);
  index.remove(9, "vn.gov.*");  // not there: nothing happens
  index.remove(9, "never.added.>");
  EXPECT_EQ(index.filters(), 0u);
}

// Random filters and topics over a small alphabet, so that they collide: the
// index says exactly what testing every filter says, through adds and removes.
TEST(SubjectIndex, AgreesWithTopicFilterOnRandomSubscriptions) {
  std::mt19937_64 rng(20261130);
  const std::vector<std::string> words = {"vn", "gov", "qn", "press", "a", "$trust", "$inbox"};
  auto pick = [&](size_t n) { return rng() % n; };
  auto topic = [&] {
    std::string t;
    const size_t n = 1 + pick(4);
    for (size_t i = 0; i < n; ++i) {
      std::string w = words[pick(words.size())];
      if (i > 0 && w == "$trust") w = "x";
      t += (i ? "." : "") + w;
    }
    return t;
  };
  auto filter = [&] {
    std::string f;
    const size_t n = 1 + pick(4);
    for (size_t i = 0; i < n; ++i) {
      const size_t r = pick(10);
      std::string w = r < 2 ? "*" : (r == 2 && i == n - 1) ? ">" : words[pick(words.size())];
      if (i > 0 && w == "$trust") w = "y";
      f += (i ? "." : "") + w;
    }
    return f;
  };
  SubjectIndex index;
  std::multiset<std::pair<uint64_t, std::string>> live;
  for (int round = 0; round < 1500; ++round) {
    if (live.empty() || pick(3) != 0) {
      std::string f = filter();
      if (!validate_filter(f).ok()) continue;
      const uint64_t sub = 1 + pick(200);
      index.add(sub, f);
      live.emplace(sub, f);
    } else {
      auto it = live.begin();
      std::advance(it, static_cast<long>(pick(live.size())));
      index.remove(it->first, it->second);
      live.erase(it);
    }
    for (int q = 0; q < 5; ++q) {
      const std::string t = topic();
      if (!validate_topic(t).ok()) continue;
      std::set<uint64_t> want;
      for (const auto& [sub, f] : live) {
        if (filter_matches(f, t)) want.insert(sub);
      }
      ASSERT_EQ(match(index, t), std::vector<uint64_t>(want.begin(), want.end())) << "topic " << t;
    }
  }
  EXPECT_EQ(index.filters(), live.size());
}

}  // namespace
}  // namespace lantoa::testing
