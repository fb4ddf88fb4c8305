// Lantoa's own JSON form of an event, the simplest thing a CMS can POST:
//
//   {"topic": "vn.gov.press", "headline": "...", "summary": "...",
//    "body": "...", "body_type": "text/html", "urgency": 3, "language": "vi",
//    "kind": "correction", "refers_to": "<hex id>", "subjects":
//    [{"code": "medtop:11000000", "name": "..."}], "attachments": [{"uri":
//    "https://...", "media_type": "image/jpeg", "size_bytes": 1234,
//    "sha256": "<hex>", "title": "..."}], "embargo_until": "2026-11-28T13:00:00Z",
//    "expires": "...", "content_created": "2026-11-27T08:00:00+07:00",
//    "link": "https://...", "byline": "..."}
//
// Reading is strict: an unknown field or a field of the wrong type is an
// error that names the field ("field \"urgency\" must be an integer"), so a
// typo in a CMS integration shows at once instead of silently dropping data.
// event_from_request() also takes an IPTC ninjs document (ninjs/ninjs.h):
// a document with "headlines", "uri" or "bodies" is read as ninjs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "lantoa/status.h"
#include "lantoa/v1/event.pb.h"

namespace lantoa::node {

// Lantoa's form into an event of `origin` (sequence is the publisher's);
// `default_topic` serves when the document names none.
Result<v1::Event> event_from_json_form(const nlohmann::json& doc, const std::string& origin,
                                       const std::string& default_topic = "");

// True when `doc` is a ninjs document rather than Lantoa's form.
bool looks_like_ninjs(const nlohmann::json& doc);

// The field an error is about: the quoted name in `field "x" ...` messages,
// else the event field its code concerns ("" when unknown).
std::string field_of(const Status& status);

// The event as Lantoa's form (the inverse of event_from_json_form, plus
// origin, sequence and created).
nlohmann::json event_to_json_form(const v1::Event& event);

}  // namespace lantoa::node
