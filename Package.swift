// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Pumasi",
    products: [
        .executable(name: "pumasi-broker", targets: ["PumasiBrokerMain"]),
        .executable(name: "pumasi", targets: ["PumasiWorkerMain"]),
        .executable(name: "pumasi-bench", targets: ["PumasiBench"]),
        .library(name: "PumasiShared", targets: ["PumasiShared"]),
    ],
    targets: [
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CSodium", path: "Sources/CSodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CYAML", path: "Sources/CYAML", providers: [.apt(["libyaml-dev"])]),
        // glibc's malloc.h (`malloc_trim`), which the Glibc module leaves out; part of libc, nothing to link.
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        // Linux's epoll (in glibc, which Swift's Glibc module leaves out): the crowd benchmark waits on 16,000 sockets.
        .systemLibrary(name: "CEpoll", path: "Sources/CEpoll"),
        .target(
            name: "PumasiShared", dependencies: ["CZeroMQ", "CSQLite", "CLibPQ", "CSodium", "CMalloc"], path: "Sources/Shared"),
        .target(name: "PumasiBroker", dependencies: ["PumasiShared"], path: "Sources/Broker/Core"),
        .executableTarget(name: "PumasiBrokerMain", dependencies: ["PumasiBroker", "PumasiShared"], path: "Sources/Broker/Main"),
        .target(name: "PumasiWorker", dependencies: ["PumasiShared", "CZlib", "CYAML"], path: "Sources/Worker/Core"),
        .executableTarget(name: "PumasiWorkerMain", dependencies: ["PumasiWorker", "PumasiShared"], path: "Sources/Worker/Main"),
        .executableTarget(
            name: "PumasiBench", dependencies: ["PumasiBroker", "PumasiWorker", "CEpoll"], path: "Sources/Broker/Bench"),
        .testTarget(
            name: "PumasiTests",
            dependencies: [
                "PumasiShared", "PumasiBroker", "PumasiWorker", "PumasiBrokerMain", "PumasiWorkerMain", "CZlib",
            ],
            path: "Tests/PumasiTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)
