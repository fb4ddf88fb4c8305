// An event as the verifier hands it to the store: the envelope without its
// chain, the chain aside, the fields the store indexes. For the broker's
// in-process tests of the store, the writer and the dispatcher.
#pragma once

#include "lantoa/event.h"
#include "store/store.h"

namespace lantoa::testing {

// `created_ms`: the record's creation time (the replay horizon counts from
// it); by default now, since the fixture's events are dated in 2023 and these
// tests skip the verifier that would check the date.
inline broker::IngestItem stored_item(const v1::SignedEvent& e, int64_t expires_ms = 0, int64_t created_ms = -1) {
  broker::IngestItem item;
  v1::SignedEvent bare = e;
  bare.clear_signer_chain();
  bare.SerializeToString(item.record.mutable_envelope());
  v1::Event event;
  event.ParseFromString(e.event());
  item.record.set_id(event_id(e.event()));
  item.record.set_origin(event.origin());
  item.record.set_origin_sequence(event.sequence());
  item.record.set_topic(event.topic());
  item.record.set_urgency(event.urgency());
  item.record.set_expires_ms(expires_ms);
  item.record.set_created_ms(created_ms >= 0 ? created_ms : unix_now_ms());
  item.record.set_signer_key_id(e.signer_key_id());
  item.chain = e.signer_chain().SerializeAsString();
  return item;
}

}  // namespace lantoa::testing
