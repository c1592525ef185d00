// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "cimcarlo",
    products: [
        .executable(name: "cimcarlo", targets: ["cimcarlo"]),
        .library(name: "CimCarlo", targets: ["CimCarlo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // MARK: C libraries at the edge (pkg-config names, Debian providers)
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .systemLibrary(
            name: "CHDF5",
            pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // oneDNN's convolutions (Debian's libdnnl-dev, no pkg-config file) behind a few C calls.
        .target(
            name: "CKernels",
            linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("dl")]
        ),

        // MARK: The engine
        .target(
            name: "CimCarlo",
            dependencies: [
                "CBLAS", "CHDF5", "CZlib", "CKernels",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),  // ONNX import
            ],
            exclude: ["ONNX/Generated/README.md"]
        ),

        // MARK: Command line
        .executableTarget(
            name: "cimcarlo",
            dependencies: [
                "CimCarlo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Tests
        .testTarget(
            name: "CimCarloTests",
            dependencies: ["CimCarlo"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
