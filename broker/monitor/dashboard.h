// The live dashboard served at / of the monitoring port: one HTML page with
// its styles and script inside (dashboard/index.html, built into the program
// by cmake/embed_text.cmake; nothing is loaded from elsewhere).
#pragma once

#include <string_view>

namespace lantoa::broker {

std::string_view dashboard_html();

}  // namespace lantoa::broker
