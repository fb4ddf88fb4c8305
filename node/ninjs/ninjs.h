// ninjs: conversion between Lantoa events and IPTC ninjs 3.1 documents, so
// that a CMS can speak the news industry's JSON format to lantoa-node.
//
// Lantoa -> ninjs: uri "urn:lantoa:<origin>:<hex id of the first version>",
// version "1", "2"... (a correction is a new version of the same uri), type
// "text", pubStatus "canceled" for a retraction (else "usable"),
// versionCreated, embargoedUntil, expires, urgency, language, headlines,
// descriptions (summary), bodies (with contentType), subjects (code -> uri),
// by (byline), associations (attachments, each a picture/component with one
// rendition) and altIds (the Lantoa event id; the canonical link). The
// document contains only schema fields: Lantoa's own metadata (signer,
// signature status, kind, refers-to) travels next to it, never inside.
//
// ninjs -> Lantoa: the fields above back into an event under the caller's
// origin and topic. Pure functions, thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "lantoa/status.h"
#include "lantoa/v1/event.pb.h"

namespace lantoa::node {

// The uri of a news item: from its origin and the id of its first version.
std::string ninjs_uri(std::string_view origin, std::string_view first_event_id);

// `event_id` is this event's id; `first_event_id` the id of the item's first
// version (the same for NEWS); `version` counts from 1.
nlohmann::json to_ninjs(const v1::Event& event, std::string_view event_id, std::string_view first_event_id,
                        uint32_t version);

// Reads a ninjs document into an event (origin, sequence and topic are the
// caller's). `previous_version` is the id of the item's latest version when
// the caller knows the document's uri already: the event is then a
// CORRECTION of it (a RETRACTION with pubStatus "canceled"). INVALID_ARGUMENT
// names the field at fault; HEADLINE_MISSING when the document has no
// headline, title or description to use; INVALID_REFERENCE for a canceled
// document without a previous version.
Result<v1::Event> from_ninjs(const nlohmann::json& doc, const std::string& origin, const std::string& topic,
                             const std::string& previous_version = {});

}  // namespace lantoa::node
