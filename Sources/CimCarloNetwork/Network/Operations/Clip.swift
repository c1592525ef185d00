/// `min(max(x, minimum), maximum)`: ReLU6 is `Clip(minimum: 0, maximum: 6)` (MobileNet).
/// The derivative is 1 strictly inside the range, 0 at and beyond its ends.
public struct Clip: PointwiseActivation, Equatable {
    public var minimum: Float
    public var maximum: Float

    public init(minimum: Float = -.infinity, maximum: Float = .infinity) {
        self.minimum = minimum
        self.maximum = maximum
    }

    public static let kind = "clip"
    @inline(__always) public func value(_ x: Float) -> Float { min(max(x, minimum), maximum) }
    @inline(__always) public func derivative(output y: Float) -> Float { y > minimum && y < maximum ? 1 : 0 }
}

extension Clip: ModelFileCodable {
    init(modelFile node: ModelFileNode, name: String) throws {
        self.init(
            minimum: try node.float("min", default: -.infinity), maximum: try node.float("max", default: .infinity))
    }

    func write(modelFile node: ModelFileNode) throws {
        try node.set("min", minimum)
        try node.set("max", maximum)
    }
}
