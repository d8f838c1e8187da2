// ylokh.hpp's libylokh 0.3 additions against the loopback test server: Stream::fd() with
// try_next() on poll(2), and Client::embed / embed_flat. Usage: event_loop_test BASE.
// Prints "N passed, M failed" and exits non-zero on any failure.
#include "ylokh.hpp"

#include <poll.h>

#include <cstdio>
#include <string>

namespace {

int passed = 0, failed = 0;

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (cond) {                                                                \
            ++passed;                                                              \
        } else {                                                                   \
            ++failed;                                                              \
            std::fprintf(stderr, "FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                          \
    } while (0)

std::string base;

ylokh::Client client_for(const std::string &scenario) {
    return ylokh::Client(ylokh::Options::compatible(base + "/" + scenario + "/v1").max_retries(0));
}

void stream_on_poll(const std::string &expected) {
    ylokh::Client client = client_for("stream");
    ylokh::Stream stream = client.stream({{"user", "hi"}});
    std::string text;
    int wakeups = 0;
    while (!stream.done()) {
        pollfd p{stream.fd(), POLLIN, 0};
        CHECK(poll(&p, 1, 10000) == 1);
        wakeups++;
        std::string_view token;
        while (stream.try_next(token)) text.append(token);
    }
    CHECK(text == expected);
    CHECK(stream.result().ok());
    CHECK(wakeups >= 1);
    std::string_view token;
    CHECK(!stream.try_next(token));  // ended: nothing more

    ylokh::Client failing = client_for("nomessages");
    ylokh::Stream bad = failing.stream({{"user", "hi"}});
    bool threw = false;
    try {
        while (!bad.done()) {
            pollfd p{bad.fd(), POLLIN, 0};
            poll(&p, 1, 10000);
            while (bad.try_next(token)) {
            }
        }
    } catch (const ylokh::Error &e) {
        threw = e.result().status == YLOKH_HTTP_STATUS;
    }
    CHECK(threw);
}

void embeddings() {
    ylokh::Client client = client_for("emb");
    std::vector<std::vector<float>> v = client.embed({"hello world", "abc"});
    CHECK(v.size() == 2);
    CHECK((v[0] == std::vector<float>{11, 104, 0.5f, 0}));
    CHECK((v[1] == std::vector<float>{3, 97, 0.5f, -1.25f}));
    ylokh::Embeddings flat = client.embed_flat({"x"}, std::string("m"), std::string(R"({"encoding_format":"float"})"));
    CHECK(flat.count() == 1 && flat.dimensions() == 4);
    CHECK(flat.row(0)[0] == 1 && flat.row(0)[1] == 120 && flat.model() == "m");
    ylokh::Client bad = client_for("emb-unequal");
    bool threw = false;
    try {
        bad.embed({"a", "b"});
    } catch (const ylokh::Error &e) {
        threw = e.result().status == YLOKH_PROTOCOL &&
                e.result().message.find("unequal length") != std::string::npos;
    }
    CHECK(threw);
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s BASE EXPECTED_TEXT\n", argv[0]);
        return 2;
    }
    base = argv[1];
    stream_on_poll(argv[2]);
    embeddings();
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
