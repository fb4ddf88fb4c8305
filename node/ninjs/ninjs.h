// ninjs: conversion between Lantoa events and IPTC ninjs 3.1 documents, so
// that a CMS can speak the news industry's JSON format to lantoa-node.
//
// ninjs -> Lantoa (from_ninjs): the document's fields become the event's
// (headlines[0] -> headline, descriptions[0] -> summary, bodies[0] -> body,
// subjects, associations/renditions -> attachments, urgency, language,
// embargoedUntil, expires, contentCreated, by, altIds canonical-url -> link),
// and the document itself travels in the event's `ninjs` field, without the
// value of bodies[0] (it is the body). pubStatus "usable" (or none) makes
// news or a correction, "canceled" a retraction; "withheld" and anything
// else are refused: a withheld item is not published.
//
// Lantoa -> ninjs (to_ninjs): a document made from the event's fields (uri
// "urn:lantoa:<origin>:<hex id of the first version>", version "1", "2"...,
// type "text", pubStatus "canceled" for a retraction else "usable",
// versionCreated, embargoedUntil, expires, contentCreated, urgency, language,
// headlines, descriptions, bodies, subjects (a code that is a URI as "uri",
// another as "literal"), by, associations (one per attachment) and altIds
// (the Lantoa event id; canonical-url)); then, when the author wrote the item
// in ninjs, every top-level field of the author's document replaces the one
// made (bodies[0].value put back from the body), so the receiver gets the
// document as written, with its own uri, version and versionCreated.
// pubStatus always follows the event's kind. Lantoa's own metadata (signer,
// signature status, kind, refers-to) travels next to it, never inside.
// Pure functions, thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "lantoa/status.h"
#include "lantoa/v1/event.pb.h"

namespace lantoa::node {

// JSON documents from others (a CMS's request, an author's ninjs carried in
// an event) are read only when nested at most this deep: deeper nesting is
// no news item, and reading it would cost a stack frame per level.
inline constexpr int kMaxJsonDepth = 64;

// True when `text` nests arrays/objects deeper than `limit` (strings are
// skipped; the text need not be valid JSON).
bool json_nested_deeper_than(std::string_view text, int limit = kMaxJsonDepth);

// The uri of a news item: from its origin and the id of its first version.
std::string ninjs_uri(std::string_view origin, std::string_view first_event_id);

// `event_id` is this event's id; `first_event_id` the id of the item's first
// version (the same for NEWS); `version` counts from 1.
nlohmann::json to_ninjs(const v1::Event& event, std::string_view event_id, std::string_view first_event_id,
                        uint32_t version);

// Reads a ninjs document into an event (origin, sequence and topic are the
// caller's). `previous_version` is the id of the item's latest version when
// the caller knows the document's uri already: the event is then a
// CORRECTION of it (a RETRACTION with pubStatus "canceled", whose headline,
// when the document has none, is `previous_headline`). INVALID_ARGUMENT
// names the field at fault; HEADLINE_MISSING when the document has no
// headline, title or description to use; INVALID_REFERENCE for a canceled
// document without a previous version.
Result<v1::Event> from_ninjs(const nlohmann::json& doc, const std::string& origin, const std::string& topic,
                             const std::string& previous_version = {}, const std::string& previous_headline = {});

}  // namespace lantoa::node
