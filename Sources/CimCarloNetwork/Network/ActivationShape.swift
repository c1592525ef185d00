/// The shape of one sample's value: its dimensions in ONNX order with the batch axis at 1
/// (an image is `[1, C, H, W]`, a feature vector `[1, F]`, a transformer's tokens `[1, T, F]`),
/// and how they lie in memory.
///
/// Every value of a network holds one such tensor per sample, samples one after another: an
/// ONNX graph exported at batch 1 (or with a symbolic batch, read at 1) runs as it is on every
/// sample, so its axis attributes apply unchanged and shape arithmetic folds at load.
public struct ActivationShape: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// How the elements of one sample lie in memory.
    public enum Layout: Sendable, Hashable {
        /// Row-major in the logical order (the last axis innermost).
        case rowMajor
        /// Rank-4 images `[1, C, H, W]` stored `H × W × C` (NHWC): what convolution, pooling
        /// and batch normalisation work on.
        case channelsLast
    }

    /// Logical dimensions, ONNX order (rank 1 to 6).
    public var dimensions: [Int]
    public var layout: Layout

    /// A general value; `layout` `.channelsLast` needs an image's dimensions `[1, C, H, W]`.
    public init(dimensions: [Int], layout: Layout = .rowMajor) {
        precondition(layout == .rowMajor || Self.canBeImage(dimensions), "channel-last values are [1, C, H, W]")
        self.dimensions = dimensions
        self.layout = layout
    }

    /// An image `[1, C, H, W]`, channel-last.
    public init(height: Int, width: Int, channels: Int) {
        self.init(dimensions: [1, channels, height, width], layout: .channelsLast)
    }

    /// A flat feature vector `[1, F]`.
    public init(features: Int) {
        self.init(dimensions: [1, features])
    }

    public var rank: Int { dimensions.count }
    /// Elements per sample.
    public var count: Int { dimensions.reduce(1, *) }
    /// Whether this is an image in channel-last layout.
    public var isImage: Bool { layout == .channelsLast }
    /// An image's channels; otherwise the innermost (last) dimension.
    public var channels: Int { isImage ? dimensions[1] : (dimensions.last ?? 1) }
    /// An image's height; otherwise every dimension but the last, multiplied.
    public var height: Int { isImage ? dimensions[2] : dimensions.dropLast().reduce(1, *) }
    public var width: Int { isImage ? dimensions[3] : 1 }
    /// Positions per channel: `count / channels`.
    public var pixels: Int { height * width }
    /// Whether every dimension but the innermost one is 1 (a vector of `channels` values).
    public var isFlat: Bool { height == 1 && width == 1 }
    /// Whether ONNX's channel axis (axis 1) is the innermost in memory — images and `[1, C]`
    /// vectors — as per-channel operations (batch normalisation, channel concatenation) need.
    public var hasChannelsInnermost: Bool { isImage || (rank == 2 && dimensions[0] == 1) }

    public var description: String {
        "[" + dimensions.map(String.init).joined(separator: ", ") + "]"
    }

    /// One sample's dimensions without the batch axis (`[C, H, W]` for an image), as datasets describe images.
    public var sampleDescription: String {
        "[" + dimensions.dropFirst(dimensions.first == 1 && rank > 1 ? 1 : 0).map(String.init).joined(separator: ", ")
            + "]"
    }

    /// The memory offset within a sample of each logical axis's unit step.
    public var strides: [Int] {
        if isImage {
            let (channels, width) = (dimensions[1], dimensions[3])
            return [count, 1, width * channels, channels]
        }
        var strides = [Int](repeating: 1, count: rank)
        for axis in stride(from: rank - 2, through: 0, by: -1) {
            strides[axis] = strides[axis + 1] * dimensions[axis + 1]
        }
        return strides
    }

    /// The memory offset of each element in logical row-major order.
    public func offsets() -> [Int32] {
        if layout == .rowMajor { return (0..<count).map { Int32($0) } }
        return ActivationShape.offsets(dimensions: dimensions, strides: strides)
    }

    /// `Σ index[axis] · strides[axis]` for every index of `dimensions` in row-major order.
    package static func offsets(dimensions: [Int], strides: [Int]) -> [Int32] {
        let total = dimensions.reduce(1, *)
        var result = [Int32](repeating: 0, count: total)
        guard total > 0 else { return result }
        var index = [Int](repeating: 0, count: dimensions.count)
        var offset = 0
        for position in 0..<total {
            result[position] = Int32(offset)
            var axis = dimensions.count - 1
            while axis >= 0 {
                index[axis] += 1
                offset += strides[axis]
                if index[axis] < dimensions[axis] { break }
                offset -= strides[axis] * dimensions[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return result
    }

    /// Whether `dimensions` are an image's, `[1, C, H, W]`.
    public static func canBeImage(_ dimensions: [Int]) -> Bool { dimensions.count == 4 && dimensions[0] == 1 }

    /// The layout values of these dimensions get by default: channel-last for images, else row-major.
    public static func naturalLayout(_ dimensions: [Int]) -> Layout {
        canBeImage(dimensions) ? .channelsLast : .rowMajor
    }
}
