// The Atom 1.0 (RFC 4287) feed of received news, for CMSs that import feeds.
// One entry per news item in its latest version: the entry id is the item's
// ninjs uri, so a correction replaces the entry (newer <updated>), and a
// withdrawn item leaves the feed. Each entry names its signer and says that
// the signature was verified (a lantoa:event element, urn:lantoa:atom).
#pragma once

#include <string>
#include <vector>

#include "state/node_store.h"

namespace lantoa::node {

// `entries` newest first, as NodeStore::inbox_newest gives them.
std::string atom_feed(const std::vector<InboxEntry>& entries, const std::string& title, const std::string& feed_id,
                      const std::string& self_url);

// Whether an inbox record belongs in the feed: the current version of an item
// that is not withdrawn.
bool in_atom_feed(const nlohmann::json& record);

}  // namespace lantoa::node
