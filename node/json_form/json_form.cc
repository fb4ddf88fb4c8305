#include "json_form/json_form.h"

#include <cctype>
#include <map>

#include "lantoa/encoding.h"
#include "lantoa/event.h"

namespace lantoa::node {
namespace {

using nlohmann::json;
using E = v1::Error;

Status field_error(const std::string& field, const std::string& rule) {
  return Status(E::INVALID_ARGUMENT, "field \"" + field + "\" " + rule);
}

// Reads optional typed fields of one JSON object, naming the field on error.
class Fields {
 public:
  Fields(const json& obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}

  Result<std::string> text(const char* key) const {
    if (!obj_.contains(key) || obj_[key].is_null()) return std::string();
    if (!obj_[key].is_string()) return field_error(prefix_ + key, "must be a string");
    return obj_[key].get<std::string>();
  }
  Result<std::optional<int64_t>> time(const char* key) const {
    auto t = text(key);
    if (!t) return t.status();
    if (t->empty()) return std::optional<int64_t>();
    auto ms = parse_time_ms(*t);
    if (!ms) return Status(E::INVALID_TIME, "field \"" + prefix_ + key + "\" \"" + *t +
                                                 "\" is not a time like 2026-11-28T13:00:00Z");
    return std::optional<int64_t>(*ms);
  }
  Result<std::optional<uint64_t>> number(const char* key) const {
    if (!obj_.contains(key) || obj_[key].is_null()) return std::optional<uint64_t>();
    const json& v = obj_[key];
    if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0)) {
      return field_error(prefix_ + key, "must be a whole number >= 0");
    }
    return std::optional<uint64_t>(v.get<uint64_t>());
  }
  Result<std::string> hex(const char* key, size_t bytes) const {
    auto t = text(key);
    if (!t || t->empty()) return t;
    auto raw = from_hex(*t);
    if (!raw || raw->size() != bytes) {
      return field_error(prefix_ + key, "must be " + std::to_string(bytes * 2) + " hexadecimal digits");
    }
    return *raw;
  }
  Status only(std::initializer_list<const char*> known) const {
    for (const auto& [key, value] : obj_.items()) {
      bool ok = false;
      for (const char* k : known) ok = ok || key == k;
      if (!ok) return field_error(prefix_ + key, "is not a field of a Lantoa event");
    }
    return Status::Ok();
  }

 private:
  const json& obj_;
  std::string prefix_;
};

#define LANTOA_ASSIGN(var, expr)            \
  auto var##_r = (expr);                    \
  if (!var##_r) return var##_r.status();    \
  auto var = std::move(*var##_r)

Result<v1::Kind> parse_kind(std::string name) {
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  v1::Kind k;
  if (!v1::Kind_Parse(name, &k) || k == v1::KIND_UNSPECIFIED) {
    return Status(E::INVALID_KIND,
                  "field \"kind\" must be news, correction, retraction, endorsement or reply (got \"" + name + "\")");
  }
  return k;
}

}  // namespace

bool looks_like_ninjs(const json& doc) {
  return doc.is_object() && (doc.contains("headlines") || doc.contains("uri") || doc.contains("bodies"));
}

Result<v1::Event> event_from_json_form(const json& doc, const std::string& origin, const std::string& default_topic) {
  if (!doc.is_object()) return Status(E::INVALID_ARGUMENT, "an event must be a JSON object");
  Fields f(doc, "");
  LANTOA_RETURN_IF_ERROR(f.only({"topic", "headline", "summary", "body", "body_type", "subjects", "attachments",
                                 "embargo_until", "expires", "content_created", "link", "byline", "kind", "refers_to", "urgency",
                                 "language"}));
  LANTOA_ASSIGN(topic, f.text("topic"));
  if (topic.empty()) topic = default_topic;
  if (topic.empty()) return Status(E::INVALID_TOPIC, "field \"topic\" is required");
  EventBuilder b(origin, 1, topic);  // the publisher sets the real sequence
  LANTOA_ASSIGN(headline, f.text("headline"));
  LANTOA_ASSIGN(summary, f.text("summary"));
  LANTOA_ASSIGN(body, f.text("body"));
  LANTOA_ASSIGN(body_type, f.text("body_type"));
  b.headline(headline).summary(summary);
  if (!body.empty()) b.body(body, body_type.empty() ? "text/plain" : body_type);
  for (const char* key : {"subjects", "attachments"}) {
    if (doc.contains(key) && !doc[key].is_array()) return field_error(key, "must be an array");
  }
  if (doc.contains("subjects")) {
    for (size_t i = 0; i < doc["subjects"].size(); ++i) {
      const json& s = doc["subjects"][i];
      const std::string at = "subjects[" + std::to_string(i) + "].";
      if (!s.is_object()) return field_error("subjects[" + std::to_string(i) + "]", "must be an object {code, name}");
      Fields sf(s, at);
      LANTOA_RETURN_IF_ERROR(sf.only({"code", "name"}));
      LANTOA_ASSIGN(code, sf.text("code"));
      LANTOA_ASSIGN(name, sf.text("name"));
      b.subject(code, name);
    }
  }
  if (doc.contains("attachments")) {
    for (size_t i = 0; i < doc["attachments"].size(); ++i) {
      const json& a = doc["attachments"][i];
      const std::string at = "attachments[" + std::to_string(i) + "].";
      if (!a.is_object()) return field_error("attachments[" + std::to_string(i) + "]", "must be an object");
      Fields af(a, at);
      LANTOA_RETURN_IF_ERROR(af.only({"uri", "media_type", "size_bytes", "sha256", "title"}));
      v1::Attachment att;
      LANTOA_ASSIGN(uri, af.text("uri"));
      LANTOA_ASSIGN(media_type, af.text("media_type"));
      LANTOA_ASSIGN(size, af.number("size_bytes"));
      LANTOA_ASSIGN(sha, af.hex("sha256", 32));
      LANTOA_ASSIGN(title, af.text("title"));
      att.set_uri(uri);
      att.set_media_type(media_type);
      att.set_size_bytes(size.value_or(0));
      att.set_sha256(sha);
      att.set_title(title);
      b.attachment(std::move(att));
    }
  }
  LANTOA_ASSIGN(embargo, f.time("embargo_until"));
  LANTOA_ASSIGN(expires, f.time("expires"));
  if (embargo) b.embargo_until_ms(*embargo);
  if (expires) b.expires_ms(*expires);
  LANTOA_ASSIGN(content_created, f.time("content_created"));
  if (content_created) b.content_created_ms(*content_created);
  LANTOA_ASSIGN(link, f.text("link"));
  LANTOA_ASSIGN(byline, f.text("byline"));
  if (!link.empty()) b.link(link);
  if (!byline.empty()) b.byline(byline);
  LANTOA_ASSIGN(kind_name, f.text("kind"));
  if (!kind_name.empty()) {
    LANTOA_ASSIGN(kind, parse_kind(kind_name));
    b.kind(kind);
  }
  LANTOA_ASSIGN(refers_to, f.hex("refers_to", 32));
  if (!refers_to.empty()) b.refers_to(refers_to);
  if (doc.contains("urgency")) {
    if (!doc["urgency"].is_number_integer()) return field_error("urgency", "must be an integer from 1 (flash) to 9");
    const int64_t u = doc["urgency"].get<int64_t>();
    if (u < 1 || u > 9) return Status(E::URGENCY_OUT_OF_RANGE, "field \"urgency\" must be from 1 (flash) to 9");
    b.urgency(static_cast<uint32_t>(u));
  }
  LANTOA_ASSIGN(language, f.text("language"));
  if (!language.empty()) b.language(language);
  return b.build();
}

std::string field_of(const Status& status) {
  const std::string& m = status.message();
  if (auto at = m.find("field \""); at != std::string::npos) {
    const size_t start = at + 7;
    if (auto end = m.find('"', start); end != std::string::npos) return m.substr(start, end - start);
  }
  static const std::map<int, std::string> by_code = {
      {E::INVALID_TOPIC, "topic"},           {E::TOPIC_OUTSIDE_NAMESPACE, "topic"},
      {E::INVALID_KIND, "kind"},             {E::URGENCY_OUT_OF_RANGE, "urgency"},
      {E::INVALID_LANGUAGE, "language"},     {E::HEADLINE_MISSING, "headline"},
      {E::HEADLINE_TOO_LONG, "headline"},    {E::SUMMARY_TOO_LONG, "summary"},
      {E::INVALID_REFERENCE, "refers_to"},   {E::INVALID_SUBJECT, "subjects"},
      {E::INVALID_ATTACHMENT, "attachments"}, {E::INVALID_BODY_TYPE, "body_type"},
      {E::INVALID_LINK, "link"},             {E::BYLINE_TOO_LONG, "byline"},
      {E::EVENT_TOO_LARGE, "body"}};
  auto it = by_code.find(status.code());
  return it == by_code.end() ? std::string() : it->second;
}

json event_to_json_form(const v1::Event& e) {
  json doc = {{"origin", e.origin()},
              {"sequence", e.sequence()},
              {"topic", e.topic()},
              {"created", format_time_ms(e.created_ms())},
              {"kind", [&] {
                 std::string k = v1::Kind_Name(e.kind());
                 for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                 return k;
               }()},
              {"urgency", e.urgency()},
              {"language", e.language()},
              {"headline", e.headline()}};
  if (!e.summary().empty()) doc["summary"] = e.summary();
  if (!e.body().empty()) {
    doc["body"] = e.body();
    doc["body_type"] = e.body_type();
  }
  for (const auto& s : e.subjects()) doc["subjects"].push_back({{"code", s.code()}, {"name", s.name()}});
  for (const auto& a : e.attachments()) {
    json att = {{"uri", a.uri()}, {"media_type", a.media_type()}};
    if (a.size_bytes()) att["size_bytes"] = a.size_bytes();
    if (!a.sha256().empty()) att["sha256"] = to_hex(a.sha256());
    if (!a.title().empty()) att["title"] = a.title();
    doc["attachments"].push_back(att);
  }
  if (e.embargo_until_ms()) doc["embargo_until"] = format_time_ms(e.embargo_until_ms());
  if (e.expires_ms()) doc["expires"] = format_time_ms(e.expires_ms());
  if (e.content_created_ms()) doc["content_created"] = format_time_ms(e.content_created_ms());
  if (!e.link().empty()) doc["link"] = e.link();
  if (!e.byline().empty()) doc["byline"] = e.byline();
  if (!e.refers_to().empty()) doc["refers_to"] = to_hex(e.refers_to());
  return doc;
}

}  // namespace lantoa::node
