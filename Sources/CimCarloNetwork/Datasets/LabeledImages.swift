import CimCarloSupport

/// A set of images with integer class labels, held in memory.
///
/// Pixels are float32 in channel-last order (`[count, height, width, channels]`, NHWC),
/// the layout the network's forward pass works in. Images read from 8-bit files are
/// scaled to [0, 1]; the model's own input normalisation is applied by the network.
public struct LabeledImages: Sendable {
    /// Pixel values, `count × height × width × channels`, NHWC.
    public var pixels: [Float]
    /// Class index of each image, `0 ..< classCount`.
    public var labels: [Int32]
    public var height: Int
    public var width: Int
    public var channels: Int

    public var count: Int { labels.count }
    /// Values per image: `height × width × channels`.
    public var pixelsPerImage: Int { height * width * channels }

    public init(pixels: [Float], labels: [Int32], height: Int, width: Int, channels: Int) {
        precondition(pixels.count == labels.count * height * width * channels, "pixels do not match the labels")
        self.pixels = pixels
        self.labels = labels
        self.height = height
        self.width = width
        self.channels = channels
    }

    /// The first `limit` images (all of them when `limit` is nil or larger than the set).
    public func prefix(_ limit: Int?) -> LabeledImages {
        guard let limit, limit < count else { return self }
        return LabeledImages(
            pixels: Array(pixels[0..<(limit * pixelsPerImage)]), labels: Array(labels[0..<limit]),
            height: height, width: width, channels: channels)
    }
}

/// Why a dataset could not be read (or, for test fixtures, written). Each case names the file.
public enum DatasetError: CimCarloError, Equatable {
    case missingFile(path: String, hint: String)
    case malformed(path: String, reason: String)
    case mismatch(reason: String)
    /// Writing a dataset file failed: a runtime failure, not bad input.
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missingFile(path, hint): "\(path): no such file (\(hint))"
        case let .malformed(path, reason), let .writeFailed(path, reason): "\(path): \(reason)"
        case let .mismatch(reason): reason
        }
    }

    public var kind: CimCarloErrorKind {
        if case .writeFailed = self { return .runtimeFailure }
        return .badInput
    }
}

extension LabeledImages {
    /// Throws unless these images fit `network`'s input and every label names one of its classes.
    /// `name` labels the error (the dataset argument or file).
    public func checkFits(_ network: Network, name: String) throws {
        // A model whose input is not an image reads the pixels as they lie, which is PyTorch's
        // C·H·W order only for single-channel images.
        let input = network.inputShape
        guard pixelsPerImage == input.count, input.isImage ? channels == input.channels : channels == 1 else {
            throw DatasetError.mismatch(
                reason:
                    "\(name): images are [\(channels), \(height), \(width)] but the model expects \(input.sampleDescription)"
                    + (!input.isImage && channels > 1
                        ? " (a model whose input is not [N, C, H, W] reads single-channel images only)" : ""))
        }
        let classes = network.classCount
        if let bad = labels.first(where: { $0 < 0 || Int($0) >= classes }) {
            throw DatasetError.mismatch(
                reason: "\(name): label \(bad) is outside the model's \(classes) classes (0 to \(classes - 1))")
        }
    }
}
