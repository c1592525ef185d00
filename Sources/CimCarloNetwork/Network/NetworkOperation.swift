import CimCarloSupport

/// One kind of operation in a network graph (convolution, batch normalisation, ReLU, add, …).
///
/// Activations are NHWC per batch: a sample is `[height, width, channels]` with the channel
/// innermost; a flat feature vector is `1 × 1 × features`. Every kind lives in its own file
/// under `Network/Operations`, with its model-file coding, so a new kind is one new file (plus
/// its entry in `Network.modelFileKinds`, and a converter in the ONNX importer when ONNX has it).
public protocol NetworkOperation: Sendable {
    /// The `kind` string of the model file schema (e.g. `"conv2d"`).
    static var kind: String { get }

    /// The output shape for these input shapes; throws a reason when they do not fit.
    func outputShape(for inputs: [ActivationShape]) throws(OperationShapeError) -> ActivationShape

    /// Floats of scratch space the forward pass (and the backward pass, when `backward`) needs
    /// for `batchSize` samples; one scratch buffer is shared by all nodes of a workspace. Default 0.
    func scratchCount(inputs: [ActivationShape], output: ActivationShape, batchSize: Int, backward: Bool) -> Int

    /// Indices the forward pass records for the backward pass (max-pool winners), per batch
    /// of `batchSize`. Default 0.
    func recordedIndexCount(output: ActivationShape, batchSize: Int) -> Int

    /// Whether the output may share the memory of the single input (an addition's: of its first
    /// or second), in inference passes: true for element-wise operations.
    var worksInPlace: Bool { get }

    /// Computes the output from the inputs.
    func forward(_ pass: ForwardPass)

    /// Adds `∂loss/∂input` to the input gradients (`.gradient`), or the diagonal Gauss–Newton
    /// curvature `S_in += Σ_out S_out · (∂out/∂in)²` (`.curvature`, SWIM's propagation), and
    /// writes the parameter derivatives of crossbar operations.
    func backward(_ pass: BackwardPass)

    /// Whether this operation equals `other` (kind, attributes and parameters).
    func isEqual(to other: any NetworkOperation) -> Bool
}

extension NetworkOperation {
    /// The operation's `kind` string.
    public var kind: String { Self.kind }

    public func scratchCount(inputs: [ActivationShape], output: ActivationShape, batchSize: Int, backward: Bool) -> Int
    {
        0
    }
    public func recordedIndexCount(output: ActivationShape, batchSize: Int) -> Int { 0 }
    public var worksInPlace: Bool { false }
}

extension NetworkOperation where Self: Equatable {
    public func isEqual(to other: any NetworkOperation) -> Bool { (other as? Self) == self }
}

/// An operation whose weights are mapped onto crossbar arrays (convolution, dense).
///
/// `weight` is the PyTorch layout, which is always the matrix `[outputs, fanIn]` row-major
/// (a convolution's `[out, in / groups, kH, kW]`); group `g` owns outputs
/// `g · outputs/groups ..< (g + 1) · outputs/groups`, each group its own crossbar matrix.
public protocol CrossbarOperation: NetworkOperation {
    /// A name for reports, result files and errors (unique within the network).
    var name: String { get }
    var weight: [Float] { get set }
    /// `[outputs]`.
    var bias: [Float] { get set }
    /// Outputs: neurons or output channels, all groups together (crossbar columns).
    var outputCount: Int { get }
    /// Inputs each output sums over (crossbar rows of one group's matrix).
    var fanIn: Int { get }
    /// Independent matrices (convolution groups); 1 for dense layers.
    var groups: Int { get }
    /// The weight tensor's shape as stored (`[out, in]` or `[out, in / groups, kH, kW]`).
    var weightShape: [Int] { get }
    /// Where PyTorch's fan-in index `k` sits in the inputs the matrix product sees
    /// (a convolution's im2col patch order); the identity for dense layers.
    var productRowOrder: [Int] { get }
    /// Multiply-accumulates per sample for this output shape.
    func multiplyAccumulates(output: ActivationShape) -> Int
}

/// Why an operation's inputs do not fit it.
public struct OperationShapeError: CimCarloError, Sendable {
    public var kind: CimCarloErrorKind { .badInput }
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// A matrix product done another way than one sgemm (the tile-accurate crossbar simulation):
/// called with the node index, the convolution group, the input matrix `[rows × inner]` (for a
/// convolution the im2col patches in `productRowOrder`), and the output `[rows × outputs]` with
/// row stride `outputStride`, which holds the bias; the closure adds the product.
public typealias MatrixProduct = (
    _ node: Int, _ group: Int, _ input: UnsafePointer<Float>, _ rows: Int, _ inner: Int,
    _ output: UnsafeMutablePointer<Float>, _ outputs: Int, _ outputStride: Int
) -> Void

/// What the product-time effects of a crossbar (per-read noise, IR drop) add to a product just
/// computed: called with `MatrixProduct`'s arguments and the group's weights `[outputs × inner]`
/// in the input's order (row stride `inner`).
public typealias ProductEffect = (
    _ node: Int, _ group: Int, _ input: UnsafePointer<Float>, _ rows: Int, _ inner: Int,
    _ weights: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, _ outputs: Int, _ outputStride: Int
) -> Void

/// What one node's forward pass reads and writes. Buffers hold `batchSize` samples.
public struct ForwardPass {
    public let node: Int
    public let inputs: [UnsafeMutableBufferPointer<Float>]
    public let inputShapes: [ActivationShape]
    public let output: UnsafeMutableBufferPointer<Float>
    public let outputShape: ActivationShape
    public let batchSize: Int
    /// Shared scratch of `scratchCount` floats.
    public let scratch: UnsafeMutableBufferPointer<Float>
    /// `recordedIndexCount` indices kept for the backward pass; empty in inference-only workspaces.
    public let recordedIndices: UnsafeMutableBufferPointer<Int32>
    /// Replaces the sgemm of crossbar operations when set.
    public let matrixProduct: MatrixProduct?
    /// Called after a crossbar operation's sgemm with the same arguments, to add per-read noise.
    public var productEffect: ProductEffect? = nil

    public var input: UnsafeMutableBufferPointer<Float> { inputs[0] }
    public var inputShape: ActivationShape { inputShapes[0] }
}

/// What one node's backward pass reads and writes.
public struct BackwardPass {
    /// What is propagated.
    public enum Mode: Sendable {
        /// First derivatives of the loss.
        case gradient
        /// The diagonal Gauss–Newton curvature, `S_in = Σ S_out · (∂out/∂in)²`.
        case curvature
    }

    public let mode: Mode
    /// The forward pass's buffers (inputs and output as computed).
    public let forward: ForwardPass
    /// `∂loss/∂output` (or the output curvature).
    public let outputGradient: UnsafeMutableBufferPointer<Float>
    /// Added to, per input; nil where no derivative is needed (the network input).
    public let inputGradients: [UnsafeMutableBufferPointer<Float>?]
    /// Written (not added) by crossbar operations: `∂loss/∂weight` and `∂loss/∂bias`
    /// summed over the batch (or `Σ S_out · x²` and `Σ S_out` in curvature mode).
    public let weightGradient: UnsafeMutableBufferPointer<Float>
    public let biasGradient: UnsafeMutableBufferPointer<Float>
}
