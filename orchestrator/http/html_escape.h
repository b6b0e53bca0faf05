// EscapeHtml: text made safe for HTML element content and double- or single-quoted
// attribute values (&, <, >, " and ' become character references). Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace projd::http {

std::string EscapeHtml(std::string_view text);

}  // namespace projd::http
