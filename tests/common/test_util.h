// Helpers of the loader/config tests: fresh directories under gtest's temp dir (removed, with their
// files, at process exit), and an error expectation.
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <initializer_list>
#include <dirent.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "runtime/status.h"

namespace vkc::test {

inline std::string make_temp_dir(const std::string& tag) {
    struct TempDirs {
        std::vector<std::string> dirs;
        ~TempDirs() {
            for (const std::string& d : dirs) {
                if (DIR* dp = ::opendir(d.c_str())) {
                    while (dirent* e = ::readdir(dp))
                        if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, ".."))
                            ::unlink((d + "/" + e->d_name).c_str());
                    ::closedir(dp);
                }
                ::rmdir(d.c_str());
            }
        }
    };
    static TempDirs all;
    std::string base = ::testing::TempDir();
    if (!base.empty() && base.back() != '/') base += '/';
    const std::string d = base + "vkc_" + std::to_string(::getpid()) + "_" + tag + "_" + std::to_string(all.dirs.size());
    ::mkdir(d.c_str(), 0755);
    all.dirs.push_back(d);
    return d;
}

// Runs fn, expects vkc::Error with the given status and every substring in what().
inline void expect_error(const std::function<void()>& fn, Status st, std::initializer_list<std::string> parts) {
    try {
        fn();
        ADD_FAILURE() << "no exception; expected " << status_name(st);
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), st) << "status " << status_name(e.status()) << ": " << e.what();
        for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
                                        << "'" << p << "' not in: " << e.what();
    }
}

} // namespace vkc::test
