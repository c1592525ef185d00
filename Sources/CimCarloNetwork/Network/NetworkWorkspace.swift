/// Preallocated buffers for forward (and backward) passes of one network at up to
/// `batchCapacity` samples. One workspace per thread; passes through it allocate nothing.
///
/// Inference-only workspaces reuse value buffers by liveness: a value's memory is handed to a
/// later value once its last reader has run, and element-wise operations write over their
/// input when nothing else reads it, so memory follows the widest cut of the graph rather
/// than the sum of all activations. Workspaces that support backward passes keep every value.
public final class NetworkWorkspace {
    public let batchCapacity: Int
    /// Shape of every value: the input, then each node's output.
    public let shapes: [ActivationShape]
    /// Whether the forward pass keeps what `backward` needs.
    public let supportsBackward: Bool

    /// The physical buffers, and which of them holds each value.
    private var buffers: [UnsafeMutableBufferPointer<Float>]
    let valueBuffer: [Int]
    /// Scratch shared by every node (im2col patches, padded inputs, permuted weights).
    let scratch: UnsafeMutableBufferPointer<Float>
    /// Indices each node records for its backward pass (empty unless `supportsBackward`).
    let recordedIndices: [UnsafeMutableBufferPointer<Int32>]
    /// Per value, its gradient (backward workspaces only).
    var gradients: [UnsafeMutableBufferPointer<Float>]
    /// Each node's input values (copied from the network the workspace was made for).
    let inputValues: [[Int]]
    /// The value holding the class scores, and the nodes run to compute it (`Network.scoreValue`).
    let scoreValue: Int
    let scoredNodeCount: Int

    /// Replaces the sgemm of crossbar operations (tile-accurate simulation); nil: sgemm.
    public var matrixProduct: MatrixProduct? {
        didSet { fullBatchPasses = [] }
    }
    /// Adds to the sgemm of crossbar operations (per-read noise); nil: nothing.
    public var productEffect: ProductEffect? {
        didSet { fullBatchPasses = [] }
    }
    /// Each node's forward view at `batchCapacity` samples, made on first use so passes over
    /// full batches allocate nothing.
    private var fullBatchPasses: [ForwardPass] = []
    /// The input normalisation per channel, `x = (pixel − shift) · scale` (mean and 1 / std),
    /// refreshed each pass.
    private let normalizationScale: UnsafeMutableBufferPointer<Float>
    private let normalizationShift: UnsafeMutableBufferPointer<Float>
    /// oneDNN's convolutions and max-poolings for this workspace's passes (inference workspaces
    /// only: backward passes keep the im2col path and the recorded winners their derivatives use).
    let kernels: NativeKernels?
    /// Buffers of multi-network passes (`evaluate(_:on:)` on several networks), grown on demand.
    private var passBuffers: [PassBuffer: UnsafeMutableBufferPointer<Float>] = [:]

    enum PassBuffer { case stackedWeights, wideProduct }

    /// Buffers for `network`'s shape. Throws if its nodes do not fit together. Inference-only
    /// workspaces (`supportsBackward: false`) share buffers by liveness and record nothing.
    public init(network: Network, batchCapacity: Int, supportsBackward: Bool = true) throws {
        precondition(batchCapacity >= 1)
        self.batchCapacity = batchCapacity
        self.supportsBackward = supportsBackward
        let shapes = try network.activationShapes()
        self.shapes = shapes
        inputValues = network.inputValues
        scoreValue = network.scoreValue
        scoredNodeCount = network.scoredNodeCount
        let sizes = shapes.map { $0.count * batchCapacity }

        var assignment = [Int](repeating: -1, count: shapes.count)
        var capacities: [Int] = []
        if supportsBackward {
            assignment = Array(shapes.indices)
            capacities = sizes
        } else {
            let lastUse = network.lastUse
            var free: [Int] = []
            func take(_ size: Int) -> Int {
                // Best fit among free buffers; else the largest free one grows; else a new one.
                let fitting = free.filter { capacities[$0] >= size }.min { capacities[$0] < capacities[$1] }
                let chosen = fitting ?? free.max { capacities[$0] < capacities[$1] }
                if let chosen {
                    free.removeAll { $0 == chosen }
                    capacities[chosen] = max(capacities[chosen], size)
                    return chosen
                }
                capacities.append(size)
                return capacities.count - 1
            }
            assignment[0] = take(sizes[0])
            for (index, node) in network.nodes.enumerated() {
                let inputs = network.inputValues[index]
                let value = index + 1
                if node.operation.worksInPlace, let reused = Self.inPlaceInput(of: index, inputs, lastUse: lastUse) {
                    assignment[value] = assignment[reused]
                    capacities[assignment[value]] = max(capacities[assignment[value]], sizes[value])
                    for input in Set(inputs) where input != reused && lastUse[input] == index {
                        free.append(assignment[input])
                    }
                } else {
                    assignment[value] = take(sizes[value])
                    for input in Set(inputs) where lastUse[input] == index { free.append(assignment[input]) }
                }
                if lastUse[value] < 0 { free.append(assignment[value]) }
            }
        }
        valueBuffer = assignment
        buffers = capacities.map { .allocateZeroed($0) }
        var scratchCount = 0
        var indices: [UnsafeMutableBufferPointer<Int32>] = []
        for (index, node) in network.nodes.enumerated() {
            let inputShapes = network.inputValues[index].map { shapes[$0] }
            scratchCount = max(
                scratchCount,
                node.operation.scratchCount(
                    inputs: inputShapes, output: shapes[index + 1], batchSize: batchCapacity, backward: supportsBackward
                ))
            let count =
                supportsBackward
                ? node.operation.recordedIndexCount(
                    output: shapes[index + 1],
                    batchSize: batchCapacity) : 0
            let buffer = UnsafeMutableBufferPointer<Int32>.allocate(capacity: count)
            buffer.initialize(repeating: 0)
            indices.append(buffer)
        }
        scratch = .allocateZeroed(scratchCount)
        normalizationScale = .allocateZeroed(shapes[0].channels)
        normalizationShift = .allocateZeroed(shapes[0].channels)
        recordedIndices = indices
        gradients = supportsBackward ? sizes.map { .allocateZeroed($0) } : []
        kernels = supportsBackward ? nil : NativeKernels(network: network, valueBuffer: assignment)
    }

    deinit {
        buffers.forEach { $0.deallocate() }
        scratch.deallocate()
        normalizationScale.deallocate()
        normalizationShift.deallocate()
        recordedIndices.forEach { $0.deallocate() }
        gradients.forEach { $0.deallocate() }
        passBuffers.values.forEach { $0.deallocate() }
    }

    /// A batch for inference passes of `network`: up to 500 images, fewer when its values or a
    /// node's scratch (a convolution's im2col patches) are large, so that each stays within
    /// 16 M floats (64 MB) per batch. Results do not depend on it.
    public static func inferenceBatch(for network: Network) -> Int {
        guard let shapes = try? network.activationShapes() else { return 1 }
        var perSample = shapes.map(\.count).max() ?? 1
        for (index, node) in network.nodes.enumerated() {
            let inputs = network.inputValues[index].map { shapes[$0] }
            perSample = max(
                perSample,
                node.operation.scratchCount(inputs: inputs, output: shapes[index + 1], batchSize: 1, backward: false))
        }
        return max(1, min(500, (16 << 20) / max(perSample, 1)))
    }

    /// The input whose buffer node `index`'s output takes over in an inference workspace (the
    /// node works in place): its single input, or an addition's first or second — the one the node
    /// just before produced first, so that a convolution can compute the addition — when that
    /// input is read for the last time here and is not the images.
    private static func inPlaceInput(of index: Int, _ inputs: [Int], lastUse: [Int]) -> Int? {
        let candidates = inputs.count == 1 ? inputs : inputs.prefix(2).sorted { $0 == index && $1 != index }
        return candidates.first { lastUse[$0] == index && $0 != 0 }
    }

    /// Pass buffer `kind` with room for at least `count` floats (reallocated only to grow).
    func passBuffer(_ kind: PassBuffer, count: Int) -> UnsafeMutableBufferPointer<Float> {
        if let buffer = passBuffers[kind], buffer.count >= count { return buffer }
        passBuffers[kind]?.deallocate()
        passBuffers[kind] = .allocateZeroed(count)
        return passBuffers[kind]!
    }

    /// Number of classes the network scores.
    public var classCount: Int { shapes[scoreValue].count }

    /// Floats held by the workspace's value buffers (what liveness sharing saves on).
    public var valueBufferFloats: Int { buffers.reduce(0) { $0 + $1.count } }

    /// The buffer holding value `value` for `batchSize` samples.
    func buffer(ofValue value: Int, batchSize: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: buffers[valueBuffer[value]][0..<(batchSize * shapes[value].count)])
    }

    /// The forward-pass view of node `index` for `batchSize` samples.
    func forwardPass(node index: Int, batchSize: Int) -> ForwardPass {
        if batchSize == batchCapacity {
            if fullBatchPasses.isEmpty {
                fullBatchPasses = inputValues.indices.map { makeForwardPass(node: $0, batchSize: batchCapacity) }
            }
            return fullBatchPasses[index]
        }
        return makeForwardPass(node: index, batchSize: batchSize)
    }

    private func makeForwardPass(node index: Int, batchSize: Int) -> ForwardPass {
        let values = inputValues[index]
        return ForwardPass(
            node: index, inputs: values.map { buffer(ofValue: $0, batchSize: batchSize) },
            inputShapes: values.map { shapes[$0] }, output: buffer(ofValue: index + 1, batchSize: batchSize),
            outputShape: shapes[index + 1], batchSize: batchSize, scratch: scratch,
            recordedIndices: recordedIndices[index], matrixProduct: matrixProduct, productEffect: productEffect)
    }

    /// Runs the forward pass on `batchSize` images (NHWC pixels in [0, 1]) and returns the
    /// logits, `[batchSize, classCount]`, valid until the next pass.
    @discardableResult
    public func forward(_ network: Network, pixels: UnsafeBufferPointer<Float>, batchSize: Int)
        -> UnsafeBufferPointer<Float>
    {
        loadInput(network, pixels: pixels, batchSize: batchSize)
        run(network, nodes: 0..<network.nodes.count, batchSize: batchSize)
        return UnsafeBufferPointer(buffer(ofValue: shapes.count - 1, batchSize: batchSize))
    }

    /// Runs the forward pass up to the class scores (`Network.scoreValue`) and returns them,
    /// `[batchSize, classCount]`, valid until the next pass.
    public func scores(_ network: Network, pixels: UnsafeBufferPointer<Float>, batchSize: Int)
        -> UnsafeBufferPointer<Float>
    {
        loadInput(network, pixels: pixels, batchSize: batchSize)
        run(network, nodes: 0..<scoredNodeCount, batchSize: batchSize)
        return UnsafeBufferPointer(buffer(ofValue: scoreValue, batchSize: batchSize))
    }

    /// Runs the forward passes of nodes `range` of `network` on `batchSize` samples. In inference
    /// workspaces a max-pooling runs on oneDNN, and so does a convolution without product hooks,
    /// with the batch normalisation and activation that follow it fused (`NativeKernels`).
    func run(_ network: Network, nodes range: Range<Int>, batchSize: Int) {
        var index = range.lowerBound
        while index < range.upperBound {
            let pass = forwardPass(node: index, batchSize: batchSize)
            let operation = network.nodes[index].operation
            if let kernels {
                if matrixProduct == nil, productEffect == nil, let convolution = operation as? Convolution,
                    let followers = kernels.forward(
                        convolution, pass, network: network, value: { self.buffer(ofValue: $0, batchSize: batchSize) })
                {
                    index += 1 + followers
                    continue
                }
                if let pooling = operation as? MaxPool, kernels.forward(pooling, pass) {
                    index += 1
                    continue
                }
            }
            operation.forward(pass)
            index += 1
        }
    }

    /// Writes the normalised images into the input value: `(pixel − mean) / std` per channel.
    func loadInput(_ network: Network, pixels: UnsafeBufferPointer<Float>, batchSize: Int) {
        precondition(batchSize <= batchCapacity && pixels.count >= batchSize * shapes[0].count)
        let input = buffer(ofValue: 0, batchSize: batchSize)
        let channels = shapes[0].channels
        for channel in 0..<channels {
            let (mean, std) = network.normalization(channel: channel)
            normalizationScale[channel] = 1 / std
            normalizationShift[channel] = mean
        }
        let count = batchSize * shapes[0].count
        for channel in 0..<channels {
            let (shift, scale) = (normalizationShift[channel], normalizationScale[channel])
            if channels == 1 {  // a loop the compiler vectorises
                for element in 0..<count { input[element] = (pixels[element] - shift) * scale }
            } else {
                for element in stride(from: channel, to: count, by: channels) {
                    input[element] = (pixels[element] - shift) * scale
                }
            }
        }
    }
}

extension UnsafeMutableBufferPointer where Element == Float {
    /// A new zero-filled buffer; the caller deallocates it.
    package static func allocateZeroed(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        buffer.initialize(repeating: 0)
        return buffer
    }

    /// Sets every row of a `[rows, row.count]` matrix to `row`.
    func fillRows(_ rows: Int, with row: [Float]) {
        row.withUnsafeBufferPointer { source in
            for start in stride(from: 0, to: rows * source.count, by: source.count) {
                UnsafeMutableRawPointer(baseAddress! + start)
                    .copyMemory(from: source.baseAddress!, byteCount: source.count * MemoryLayout<Float>.stride)
            }
        }
    }
}
