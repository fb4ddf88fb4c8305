// ReviewDesk: news going up "after review and selection", and answers back.
//
// Addressing (lantoa/names.h, "Inboxes"). A member proposes an item to a
// reviewer by publishing it on the reviewer's inbox, "<reviewer>.$inbox.<me>":
// only the two of them read it. The reviewer's node subscribes to its own
// inbox ("<member>.$inbox.>", the subscription "inbox") and NodeStore keeps
// every proposal there (state, versions, history) next to the inbox record.
// Answers travel the other way, on "<proposer>.$inbox.<reviewer>".
//
// Decisions (the node's certificate must hold the editor role, and the
// broker and every receiver check it again):
//   endorse  an ENDORSEMENT on the reviewer's own topic that carries the
//            proposal's latest version byte for byte (every receiver
//            verifies both signatures), then a REPLY ACCEPTED to the proposer;
//   reject   a REPLY REJECTED or CHANGES_REQUESTED with the reason.
// Opening a proposal (show) sends a REPLY SEEN once. A later correction or
// retraction of an endorsed proposal by its author is endorsed at once
// (follow-up), so the endorsement's receivers get it as the next version of
// what they were given.
//
// Every publication goes through the node's Publisher with an idempotency
// key made from the proposal and the act ("review:<item>:endorse"...), and
// the state changes after the event is in the outbox: a crash in between
// repeats the request, which answers with the same event. Follow-ups are
// kept in the proposal until published and are retried at start.
//
// Any received item can be answered (reply): a REPLY FEEDBACK on its
// origin's inbox. Answers to what this node published are listed with it
// (GET /v1/events/{id}: "replies", and "review" for a proposal).
#pragma once

#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "lantoa/publisher.h"
#include "lantoa/status.h"
#include "lantoa/v1/event.pb.h"
#include "state/node_store.h"

namespace lantoa::node {

class ReviewDesk {
 public:
  // Signs and queues an event of this portal (Node::publish_event): its id.
  using Publish = std::function<Result<std::string>(v1::Event event, const std::string& item_uri,
                                                    const Idempotency& idempotency)>;
  // `member`: this portal; `endorse_topic`: [review] endorse_topic; `editor`:
  // whether the portal's certificate holds the editor role.
  ReviewDesk(NodeStore& store, Publish publish, std::string member, std::string endorse_topic, bool editor)
      : store_(store), publish_(std::move(publish)), member_(std::move(member)),
        endorse_topic_(std::move(endorse_topic)), editor_(editor) {}

  // {"proposals": [summary...], "total", "offset"}: newest first, from
  // `offset`, at most `limit`; `state`: "", pending, endorsed, rejected,
  // changes_requested, withdrawn (INVALID_ARGUMENT otherwise).
  Result<nlohmann::json> list(const std::string& state, size_t offset = 0, size_t limit = 100);
  // The proposal with its latest version as received ("event") and history;
  // the first time, tells the proposer it was seen (REPLY SEEN).
  Result<nlohmann::json> show(const std::string& item_id);
  // {"topic"?: where (default [review] endorse_topic), "urgency"?: 1..9,
  //  "text"?: a note for the proposer}.
  Result<nlohmann::json> endorse(const std::string& item_id, const nlohmann::json& request);
  // {"reason": "rejected" | "changes_requested", "text": why (required)}.
  Result<nlohmann::json> reject(const std::string& item_id, const nlohmann::json& request);
  // Answers a received event: {"code"?: "feedback" (default), "text"}.
  Result<nlohmann::json> reply(const std::string& event_id, const nlohmann::json& request);
  // Endorses versions of endorsed proposals not endorsed yet.
  void follow_up();
  // What GET /v1/events/{id} adds for an event this node published:
  // "replies" (the answers to it) and, for a proposal, "review".
  Status annotate(nlohmann::json& published);

 private:
  Status need_editor(const std::string& act) const;
  void follow_up_locked();  // mu_ held
  // A proposal that still takes a decision: NOT_FOUND, INVALID_REFERENCE
  // (withdrawn) or ALREADY_EXISTS (endorsed) otherwise.
  Result<nlohmann::json> undecided(const std::string& item_id);
  // A REPLY to `to_event` (an event of `origin`) with `code` and `text`.
  Result<std::string> send_reply(const std::string& origin, const std::string& to_event, v1::ReplyCode code,
                                 const std::string& headline, const std::string& text, const std::string& key);
  // `item_uri`: for a follow-up, the first endorsement's item (its next version).
  Result<std::string> send_endorsement(const std::string& version_id, const std::string& topic, uint32_t urgency,
                                       const std::string& key, const std::string& item_uri = "");

  NodeStore& store_;
  const Publish publish_;
  const std::string member_;
  const std::string endorse_topic_;
  const bool editor_;
  std::mutex mu_;  // one decision at a time (the state is read, then acted on)
};

}  // namespace lantoa::node
