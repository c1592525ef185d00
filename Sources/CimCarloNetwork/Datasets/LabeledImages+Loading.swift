import CimCarloSupport
import Foundation

/// Where a dataset comes from: Fashion-MNIST as Debian packages it, or an HDF5 file.
public enum DatasetSource: Sendable, Equatable, CustomStringConvertible {
    /// Fashion-MNIST IDX gzip files in `directory`
    /// (default /usr/share/datasets/fashion-mnist, from the `dataset-fashion-mnist` package).
    case fashionMNIST(directory: String)
    /// An HDF5 file with `images` `[N, C, H, W]` (uint8 scaled to [0, 1], or float32 as is)
    /// and `labels` `[N]` (any integer type). Holds the test split only: training
    /// needs `train_images` and `train_labels` beside them.
    case hdf5(path: String)

    public static let defaultFashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"

    /// Parses a command-line or run-spec value: `fashion-mnist`, `fashion-mnist:DIR`, or a path to a `.h5` file.
    public init(argument: String) {
        if argument == "fashion-mnist" {
            self = .fashionMNIST(directory: Self.defaultFashionMNISTDirectory)
        } else if argument.hasPrefix("fashion-mnist:") {
            self = .fashionMNIST(directory: String(argument.dropFirst("fashion-mnist:".count)))
        } else {
            self = .hdf5(path: argument)
        }
    }

    public var description: String {
        switch self {
        case let .fashionMNIST(directory):
            directory == Self.defaultFashionMNISTDirectory ? "fashion-mnist" : "fashion-mnist:\(directory)"
        case let .hdf5(path): path
        }
    }

    /// Which part of a dataset.
    public enum Split: String, Sendable {
        case train, test
    }

    /// The files one split is read from (for fingerprints).
    public func files(_ split: Split) -> [String] {
        switch self {
        case let .fashionMNIST(directory):
            let prefix = split == .train ? "train" : "t10k"
            return ["\(directory)/\(prefix)-images-idx3-ubyte.gz", "\(directory)/\(prefix)-labels-idx1-ubyte.gz"]
        case let .hdf5(path):
            return [path]
        }
    }

    /// SHA-256 over the bytes of the split's files, in order.
    public func sha256(_ split: Split) throws -> String {
        var hasher = SHA256()
        for file in files(split) {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw DatasetError.missingFile(path: file, hint: "cannot read it to fingerprint the dataset")
            }
            hasher.update(data)
        }
        return hasher.finalizeHex()
    }

    /// Loads one split.
    public func load(_ split: Split) throws -> LabeledImages {
        switch self {
        case let .fashionMNIST(directory):
            let prefix = split == .train ? "train" : "t10k"
            return try LabeledImages.loadIDX(
                images: "\(directory)/\(prefix)-images-idx3-ubyte.gz",
                labels: "\(directory)/\(prefix)-labels-idx1-ubyte.gz")
        case let .hdf5(path):
            let names = split == .train ? ("train_images", "train_labels") : ("images", "labels")
            return try LabeledImages.loadHDF5(path: path, images: names.0, labels: names.1)
        }
    }
}

extension LabeledImages {
    /// Reads an IDX image file (`[N, H, W]` bytes) and its label file (`[N]` bytes).
    public static func loadIDX(images imagesPath: String, labels labelsPath: String) throws -> LabeledImages {
        let images = try IDXFile(contentsOf: imagesPath)
        let labels = try IDXFile(contentsOf: labelsPath)
        guard images.dimensions.count == 3 else {
            throw DatasetError.malformed(
                path: imagesPath, reason: "images must have 3 dimensions [N, H, W], found \(images.dimensions)")
        }
        guard labels.dimensions.count == 1 else {
            throw DatasetError.malformed(
                path: labelsPath, reason: "labels must have 1 dimension [N], found \(labels.dimensions)")
        }
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw DatasetError.mismatch(
                reason:
                    "\(imagesPath) holds \(images.dimensions[0]) images but \(labelsPath) holds \(labels.dimensions[0]) labels"
            )
        }
        return LabeledImages(
            pixels: images.bytes.map { Float($0) / 255 },
            labels: labels.bytes.map { Int32($0) },
            height: images.dimensions[1], width: images.dimensions[2], channels: 1)
    }

    /// Reads `images` `[N, C, H, W]` and `labels` `[N]` from an HDF5 file, converting to NHWC.
    public static func loadHDF5(
        path: String, images imagesName: String = "images",
        labels labelsName: String = "labels"
    ) throws -> LabeledImages {
        let file: HDF5File
        do {
            file = try HDF5File(path: path, mode: .readOnly)
        } catch let error as HDF5Error {
            throw DatasetError.malformed(path: path, reason: "cannot \(error.operation)")
        }
        for name in [imagesName, labelsName] where !file.exists("/" + name) {
            throw DatasetError.malformed(
                path: path,
                reason: "has no dataset `\(name)` (a dataset file needs `images` [N,C,H,W] and `labels` [N])")
        }
        let shape = try file.shape(of: "/" + imagesName)
        guard shape.count == 4, shape.allSatisfy({ $0 > 0 }) else {
            throw DatasetError.malformed(
                path: path, reason: "`\(imagesName)` must be [N, C, H, W] with N, C, H, W > 0, found \(shape)")
        }
        let isBytes = try file.isUInt8("/" + imagesName)
        let raw: ShapedArray<Float> = try file.read("/" + imagesName)
        let labels: ShapedArray<Int64> = try file.read("/" + labelsName)
        guard labels.shape == [shape[0]] else {
            throw DatasetError.malformed(
                path: path,
                reason: "`\(labelsName)` must be [\(shape[0])] to match `\(imagesName)`, found \(labels.shape)")
        }
        guard labels.values.allSatisfy({ (0...Int64(Int32.max)).contains($0) }) else {
            throw DatasetError.malformed(path: path, reason: "`\(labelsName)` must hold non-negative class indices")
        }
        guard raw.values.allSatisfy({ $0.isFinite }) else {
            throw DatasetError.malformed(path: path, reason: "`\(imagesName)` holds NaN or infinite values")
        }
        if !isBytes, let outside = raw.values.first(where: { $0 < 0 || $0 > 1 }) {
            throw DatasetError.malformed(
                path: path,
                reason:
                    "`\(imagesName)` holds float pixels outside [0, 1] (e.g. \(outside)); store uint8 pixels (0–255), or floats in [0, 1] and give the model's normalisation as input_mean/input_std"
            )
        }
        let (count, channels, height, width) = (shape[0], shape[1], shape[2], shape[3])
        let divisor: Float = isBytes ? 255 : 1
        var pixels = [Float](repeating: 0, count: raw.values.count)
        for n in 0..<count {
            for c in 0..<channels {
                for y in 0..<height {
                    for x in 0..<width {
                        pixels[((n * height + y) * width + x) * channels + c] =
                            raw.values[((n * channels + c) * height + y) * width + x] / divisor
                    }
                }
            }
        }
        return LabeledImages(
            pixels: pixels, labels: labels.values.map { Int32($0) },
            height: height, width: width, channels: channels)
    }
}
