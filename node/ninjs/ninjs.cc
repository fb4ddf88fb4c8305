#include "ninjs/ninjs.h"

#include "lantoa/encoding.h"
#include "lantoa/event.h"

namespace lantoa::node {
namespace {

using nlohmann::json;
using E = v1::Error;

constexpr std::string_view kIdRole = "lantoa-event-id";
constexpr std::string_view kLinkRole = "canonical-url";

// The first "value" of an array of {value, ...} objects ("" when absent).
std::string first_value(const json& doc, const char* key) {
  if (!doc.contains(key) || !doc[key].is_array()) return {};
  for (const auto& item : doc[key]) {
    if (item.is_object() && item.contains("value") && item["value"].is_string()) return item["value"];
  }
  return {};
}

Status field_error(const std::string& field, const std::string& rule) {
  return Status(E::INVALID_ARGUMENT, "ninjs field \"" + field + "\" " + rule);
}

}  // namespace

std::string ninjs_uri(std::string_view origin, std::string_view first_event_id) {
  return "urn:lantoa:" + std::string(origin) + ":" + to_hex(first_event_id);
}

json to_ninjs(const v1::Event& e, std::string_view event_id, std::string_view first_event_id, uint32_t version) {
  json doc = {{"uri", ninjs_uri(e.origin(), first_event_id)},
              {"type", "text"},
              {"version", std::to_string(version)},
              {"versionCreated", format_time_ms(e.created_ms())},
              {"pubStatus", e.kind() == v1::RETRACTION ? "canceled" : "usable"},
              {"urgency", e.urgency()},
              {"language", e.language()},
              {"headlines", json::array({{{"value", e.headline()}}})}};
  if (e.embargo_until_ms()) doc["embargoedUntil"] = format_time_ms(e.embargo_until_ms());
  if (e.expires_ms()) doc["expires"] = format_time_ms(e.expires_ms());
  if (e.content_created_ms()) doc["contentCreated"] = format_time_ms(e.content_created_ms());
  if (!e.summary().empty()) doc["descriptions"] = json::array({{{"value", e.summary()}}});
  if (!e.body().empty()) {
    doc["bodies"] = json::array(
        {{{"value", e.body()}, {"contentType", e.body_type().empty() ? "text/plain" : e.body_type()}}});
  }
  if (!e.byline().empty()) doc["by"] = e.byline();
  for (const auto& s : e.subjects()) {
    json subject = {{"uri", s.code()}};
    if (!s.name().empty()) subject["name"] = s.name();
    doc["subjects"].push_back(subject);
  }
  int n = 0;
  for (const auto& a : e.attachments()) {
    json rendition = {{"name", "original"}, {"href", a.uri()}, {"contentType", a.media_type()}};
    if (a.size_bytes()) rendition["sizeInBytes"] = a.size_bytes();
    json assoc = {{"name", "attachment-" + std::to_string(++n)},
                  {"uri", a.uri()},
                  {"type", a.media_type().starts_with("image/") ? "picture" : "component"},
                  {"renditions", json::array({rendition})}};
    if (!a.title().empty()) assoc["headlines"] = json::array({{{"value", a.title()}}});
    doc["associations"].push_back(assoc);
  }
  doc["altIds"] = json::array({{{"role", kIdRole}, {"value", to_hex(event_id)}}});
  if (!e.link().empty()) doc["altIds"].push_back({{"role", kLinkRole}, {"value", e.link()}});
  return doc;
}

Result<v1::Event> from_ninjs(const json& doc, const std::string& origin, const std::string& topic,
                             const std::string& previous_version) {
  if (!doc.is_object()) return Status(E::INVALID_ARGUMENT, "a ninjs document must be a JSON object");
  auto str = [&](const char* key) -> Result<std::string> {
    if (!doc.contains(key)) return std::string();
    if (!doc[key].is_string()) return field_error(key, "must be a string");
    return doc[key].get<std::string>();
  };
  std::string headline = first_value(doc, "headlines");
  if (headline.empty()) {
    auto title = str("title");
    if (!title) return title.status();
    headline = *title;
  }
  const std::string description = first_value(doc, "descriptions");
  if (headline.empty() && !description.empty()) {  // a picture item: its caption serves
    headline = description.substr(0, 300);
    while (!headline.empty() && !is_valid_utf8(headline)) headline.pop_back();
  }
  EventBuilder b(origin, 1, topic);
  b.headline(headline).summary(description == headline ? "" : description);
  if (doc.contains("bodies")) {
    if (!doc["bodies"].is_array()) return field_error("bodies", "must be an array");
    if (!doc["bodies"].empty()) {
      const json& body = doc["bodies"][0];
      if (!body.is_object() || !body.contains("value") || !body["value"].is_string()) {
        return field_error("bodies[0].value", "must be a string");
      }
      const std::string type = body.value("contentType", "text/plain");
      b.body(body["value"].get<std::string>(), type.find("html") != std::string::npos ? "text/html" : "text/plain");
    }
  }
  if (doc.contains("urgency")) {
    if (!doc["urgency"].is_number_integer()) return field_error("urgency", "must be an integer 1..9");
    b.urgency(doc["urgency"].get<uint32_t>());
  }
  auto language = str("language");
  if (!language) return language.status();
  if (!language->empty()) b.language(*language);
  for (const auto& [field, set] : std::initializer_list<std::pair<const char*, bool>>{{"embargoedUntil", true},
                                                                                     {"expires", false}}) {
    auto text = str(field);
    if (!text) return text.status();
    if (text->empty()) continue;
    auto t = parse_time_ms(*text);
    if (!t) return field_error(field, "must be a date-time like 2026-11-28T13:00:00Z");
    if (set) b.embargo_until_ms(*t);
    else b.expires_ms(*t);
  }
  auto content_created = str("contentCreated");
  if (!content_created) return content_created.status();
  if (!content_created->empty()) {
    auto t = parse_time_ms(*content_created);
    if (!t) return field_error("contentCreated", "must be a date-time like 2026-11-28T13:00:00Z");
    b.content_created_ms(*t);
  }
  auto by = str("by");
  if (!by) return by.status();
  if (!by->empty()) b.byline(*by);
  if (doc.contains("subjects") && doc["subjects"].is_array()) {
    for (const auto& s : doc["subjects"]) {
      if (!s.is_object()) return field_error("subjects", "must hold objects");
      const std::string code = s.value("uri", s.value("name", ""));
      if (!code.empty()) b.subject(code, s.value("name", ""));
    }
  }
  auto add_rendition = [&](const json& r, const std::string& title) {
    if (!r.is_object() || !r.contains("href") || !r["href"].is_string()) return;
    v1::Attachment a;
    a.set_uri(r["href"].get<std::string>());
    a.set_media_type(r.value("contentType", "application/octet-stream"));
    if (r.contains("sizeInBytes") && r["sizeInBytes"].is_number_unsigned()) a.set_size_bytes(r["sizeInBytes"]);
    a.set_title(title);
    b.attachment(std::move(a));
  };
  if (doc.contains("associations") && doc["associations"].is_array()) {
    for (const auto& assoc : doc["associations"]) {
      if (!assoc.is_object() || !assoc.contains("renditions") || !assoc["renditions"].is_array()) continue;
      if (!assoc["renditions"].empty()) add_rendition(assoc["renditions"][0], first_value(assoc, "headlines"));
    }
  }
  if (doc.contains("renditions") && doc["renditions"].is_array() && !doc["renditions"].empty()) {
    add_rendition(doc["renditions"][0], "");  // the item itself is a picture: keep its main rendition
  }
  if (doc.contains("altIds") && doc["altIds"].is_array()) {
    for (const auto& alt : doc["altIds"]) {
      if (alt.is_object() && alt.value("role", "") == kLinkRole) b.link(alt.value("value", ""));
    }
  }
  auto status = str("pubStatus");
  if (!status) return status.status();
  if (*status == "canceled") {
    if (previous_version.empty()) {
      return Status(E::INVALID_REFERENCE, "ninjs field \"uri\": a canceled item needs an earlier version to withdraw");
    }
    b.kind(v1::RETRACTION).refers_to(previous_version);
  } else if (!previous_version.empty()) {
    b.kind(v1::CORRECTION).refers_to(previous_version);
  }
  return b.build();
}

}  // namespace lantoa::node
