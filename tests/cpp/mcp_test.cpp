// ylokh::McpSession against the fake MCP server (tests/mcp/fake_server.c).
// Usage: mcp_test_cpp FAKE_SERVER. Prints "mcp c++: N checks, F failed".
#include "ylokh.hpp"

#include <cstdio>
#include <cstring>

static int checks, failures;
#define CHECK(cond)                                                                \
    do {                                                                           \
        checks++;                                                                  \
        if (!(cond)) {                                                             \
            failures++;                                                            \
            std::fprintf(stderr, "FAIL %s:%d: %s\n", __func__, __LINE__, #cond);   \
        }                                                                          \
    } while (0)

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    ylokh::Client client(ylokh::Options::compatible("http://127.0.0.1:9/v1"));
    ylokh::McpSession s = ylokh::McpSession::stdio(client, {argv[1]}, {"FAKE_MCP_GREETING=c++ "}, "fake");
    std::string tools = s.tools("fake");
    CHECK(tools.find("\"name\":\"fake_echo\"") != std::string::npos);
    ylokh::McpToolResult r = s.call("echo", R"({"text":"hi"})");
    CHECK(r.text == "c++ hi" && !r.is_error);
    ylokh::McpToolResult image = s.call("image");
    CHECK(image.content_json.find("data:image/png;base64,") != std::string::npos);
    CHECK(s.call("fail").is_error);
    try {
        s.call("nope");
        CHECK(false);
    } catch (const ylokh::Error &e) {
        CHECK(e.status() == YLOKH_SERVER_ERROR && e.message().find("Unknown tool") != std::string::npos);
    }
    try {
        s.call("slow", "{}", std::chrono::milliseconds(200));
        CHECK(false);
    } catch (const ylokh::Error &e) {
        CHECK(e.status() == YLOKH_TIMEOUT);
    }
    ylokh::McpSession moved = std::move(s);
    CHECK(!moved.tools_changed() && moved.get() != nullptr && s.get() == nullptr);
    // The moved-from session answers as the C calls do on NULL: tools_changed() is true (so
    // nothing uses its tools), the other calls throw.
    CHECK(s.tools_changed());
    for (int which = 0; which < 3; which++) {
        try {
            if (which == 0) s.tools("fake");
            if (which == 1) s.accept_tools();
            if (which == 2) s.call("echo");
            CHECK(false);
        } catch (const ylokh::Error &e) {
            CHECK(e.status() == YLOKH_INVALID_ARGUMENT);
        }
    }
    // Move-assigning over a live session frees (and stops) the one it held.
    ylokh::McpSession other = ylokh::McpSession::stdio(client, {argv[1]}, {}, "other");
    moved = std::move(other);
    CHECK(moved.get() != nullptr && other.get() == nullptr && !moved.tools().empty());
    std::printf("mcp c++: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
