import CimCarlo
import Foundation
import Testing

@testable import CimCarloNetwork

/// The graph network: shapes, buffers shared by liveness, the backward pass through every
/// operation against finite differences, the Gauss–Newton curvature against a brute-force
/// propagation, batch-norm folding, model files and mapping of grouped convolutions.
@Suite struct GraphNetworkTests {
    let network: Network
    let images: LabeledImages

    init() throws {
        network = makeGraphNetwork(seed: 21)
        // Finite differences are wrong across a ReLU, clip or max-pool kink: take the first
        // images whose every kink input keeps a margin of 1e-3 (the fixture's precondition).
        var seed: UInt64 = 22
        var images = makeRandomImages(for: network, count: 2, seed: seed)
        while try Self.kinkMargin(network, images) < 1e-3 && seed < 200 {
            seed += 1
            images = makeRandomImages(for: network, count: 2, seed: seed)
        }
        self.images = images
    }

    private func logits(_ network: Network, supportsBackward: Bool = true) throws -> [Float] {
        let workspace = try NetworkWorkspace(
            network: network, batchCapacity: images.count, supportsBackward: supportsBackward)
        return images.pixels.withUnsafeBufferPointer {
            Array(workspace.forward(network, pixels: $0, batchSize: images.count))
        }
    }

    private func meanLoss(_ network: Network, pixels: [Float]? = nil) throws -> Double {
        let workspace = try NetworkWorkspace(network: network, batchCapacity: images.count, supportsBackward: false)
        let logits = (pixels ?? images.pixels).withUnsafeBufferPointer {
            workspace.forward(network, pixels: $0, batchSize: images.count)
        }
        return images.labels.withUnsafeBufferPointer {
            SoftmaxCrossEntropy.evaluate(
                logits: logits, labels: $0, batchSize: images.count, classCount: network.classCount)
        }.lossSum / Double(images.count)
    }

    @Test func shapesFollowTheAttributes() throws {
        let shapes = try network.activationShapes()
        func shape(_ name: String) -> ActivationShape { shapes[network.nodeIndex(named: name)! + 1] }
        #expect(shape("c1") == ActivationShape(height: 5, width: 10, channels: 4))  // (9+0+2−3)/2+1, (9+1+1−2)/1+1
        #expect(shape("c2") == ActivationShape(height: 5, width: 10, channels: 4))  // dilated width span 5, pads 2
        #expect(shape("cat").channels == 8)
        #expect(shape("mp") == ActivationShape(height: 3, width: 10, channels: 8))  // ceil((5+2−3)/2)+1 = 3
        #expect(shape("ap") == ActivationShape(height: 2, width: 6, channels: 8))  // ceil((10+1−2)/2)+1 = 6
        #expect(network.classCount == 5)
    }

    @Test func nodesComeInATopologicalOrderWhateverTheGivenOrder() throws {
        let shuffled = try Network(
            inputShape: network.inputShape, inputMean: network.inputMean, inputStd: network.inputStd,
            nodes: network.nodes.reversed())
        #expect(shuffled.nodes.map(\.name).last == "fc")
        #expect(try logits(shuffled) == logits(network))
    }

    @Test func structuralErrorsNameTheNode() {
        let relu = NetworkNode(name: "a", inputs: ["b"], operation: ReLU())
        let other = NetworkNode(name: "b", inputs: ["a"], operation: ReLU())
        #expect(throws: NetworkShapeError(node: "a", reason: "the graph has a cycle through this node")) {
            try Network(inputShape: ActivationShape(features: 3), nodes: [relu, other])
        }
        #expect(throws: NetworkShapeError(node: "a", reason: "input `missing` names no node")) {
            try Network(
                inputShape: ActivationShape(features: 3),
                nodes: [NetworkNode(name: "a", inputs: ["missing"], operation: ReLU())])
        }
        let add = try! Network(
            inputShape: ActivationShape(height: 2, width: 2, channels: 1),
            nodes: [
                NetworkNode(name: "pool", inputs: ["input"], operation: MaxPool(kernel: 2)),
                NetworkNode(name: "add", inputs: ["input", "pool"], operation: Add()),
            ])
        #expect(throws: NetworkShapeError.self) { try add.activationShapes() }
    }

    @Test func inferenceBuffersAreSharedByLivenessAndGiveTheSameLogits() throws {
        let inference = try NetworkWorkspace(network: network, batchCapacity: 8, supportsBackward: false)
        let training = try NetworkWorkspace(network: network, batchCapacity: 8)
        #expect(inference.valueBufferFloats < training.valueBufferFloats / 2)
        // Inference workspaces run convolutions with oneDNN (another summation order than
        // im2col + sgemm), so the logits agree to rounding.
        let (shared, kept) = (try logits(network, supportsBackward: false), try logits(network))
        let scale = kept.map(abs).max()!
        for (a, b) in zip(shared, kept) { #expect(abs(a - b) <= 1e-5 * scale, "\(a) vs \(b)") }
    }

    @Test func liveBuffersOfAChainStayAtTheWidestCut() throws {
        // A chain of element-wise nodes runs in place: two buffers (the input, and one for the
        // rest; the logits reuse it).
        let chain = Network(
            inputShape: ActivationShape(features: 1000),
            layers: [
                ReLU(), Sigmoid(), Tanh(), LeakyReLU(), Clip(minimum: 0, maximum: 1),
                Dense(
                    name: "fc", inputs: 1000, outputs: 3, weight: Array(repeating: 0.001, count: 3000), bias: [0, 0, 0]),
            ])
        let workspace = try NetworkWorkspace(network: chain, batchCapacity: 2, supportsBackward: false)
        #expect(workspace.valueBufferFloats == 2 * 1000 * 2)
    }

    private func gradients() throws -> (ParameterGradients, [Float]) {
        try analyticGradients(network, images: images)
    }

    /// Central differences of the loss along single coordinates against the analytic gradient.
    /// A ReLU, clip or max-pool kink within a step makes a central difference wrong, not the
    /// gradient: such coordinates show as a step-size dependence (h against h/4) and are
    /// skipped; at most a tenth may be.
    private func expectAgreement(
        gradient: [Float], coordinates: Int = 40, seed: UInt64,
        loss: (_ coordinate: Int, _ step: Float) throws -> Double
    ) rethrows {
        var generator = SplitMix64(seed: seed)
        let chosen = (0..<min(coordinates, gradient.count)).map { _ in Int(generator.next() % UInt64(gradient.count)) }
        var skipped = 0
        for coordinate in chosen {
            func difference(_ step: Float) throws -> Double {
                (try loss(coordinate, step) - loss(coordinate, -step)) / (2 * Double(step))
            }
            let (coarse, fine) = (try difference(5e-4), try difference(1.25e-4))
            if abs(coarse - fine) > 2e-3 + 1e-2 * abs(fine) {
                skipped += 1
                continue
            }
            let analytic = Double(gradient[coordinate])
            #expect(
                abs(coarse - analytic) <= 1e-2 * abs(analytic) + 1e-3,
                "coordinate \(coordinate): numeric \(coarse) vs analytic \(analytic)")
        }
        #expect(skipped * 10 <= chosen.count, "\(skipped) of \(chosen.count) coordinates sit on a kink")
    }

    @Test(arguments: ["c1", "c2", "c3", "fcB", "fc"])
    func parameterGradientsMatchFiniteDifferences(node name: String) throws {
        let index = network.nodeIndex(named: name)!
        let (gradients, _) = try gradients()
        #expect(gradients.weight[index].contains { abs($0) > 1e-3 })
        for part in ["weight", "bias"] {
            let gradient = part == "weight" ? gradients.weight[index] : gradients.bias[index]
            try expectAgreement(gradient: gradient, seed: UInt64(index * 7 + part.count)) { coordinate, step in
                var shifted = network
                shifted.modifyParameters(ofNode: index) { weight, bias in
                    if part == "weight" { weight[coordinate] += step } else { bias[coordinate] += step }
                }
                return try meanLoss(shifted)
            }
        }
    }

    @Test func pixelGradientMatchesFiniteDifferences() throws {
        let (_, pixelGradient) = try gradients()
        try expectAgreement(gradient: pixelGradient, seed: 5) { coordinate, step in
            var pixels = images.pixels
            pixels[coordinate] += step
            return try meanLoss(network, pixels: pixels)
        }
    }

    // MARK: - Gauss–Newton curvature against brute force

    /// Node `index`'s output for explicit input values (one sample), through its own forward pass.
    private func evaluate(_ index: Int, inputs: [[Float]], shapes: [ActivationShape]) -> [Float] {
        Self.evaluate(network, index, inputs: inputs, shapes: shapes)
    }

    private static func evaluate(_ network: Network, _ index: Int, inputs: [[Float]], shapes: [ActivationShape])
        -> [Float]
    {
        let operation = network.nodes[index].operation
        let inputShapes = network.inputValues[index].map { shapes[$0] }
        let outputShape = shapes[index + 1]
        var buffers = inputs.map { values in
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: values.count)
            _ = buffer.initialize(from: values)
            return buffer
        }
        let output = UnsafeMutableBufferPointer<Float>.allocate(capacity: outputShape.count)
        let scratch = UnsafeMutableBufferPointer<Float>.allocateZeroed(
            operation.scratchCount(inputs: inputShapes, output: outputShape, batchSize: 1, backward: false))
        defer {
            buffers.forEach { $0.deallocate() }
            output.deallocate()
            scratch.deallocate()
        }
        operation.forward(
            ForwardPass(
                node: index, inputs: buffers, inputShapes: inputShapes, output: output,
                outputShape: outputShape, batchSize: 1, scratch: scratch,
                recordedIndices: UnsafeMutableBufferPointer(start: nil, count: 0), matrixProduct: nil))
        buffers.removeAll()
        return Array(output)
    }

    /// `S_in = Σ_out S_out (∂out/∂in)²` edge by edge, and `S_W = Σ_out S_out (∂out/∂W)²`, with every
    /// derivative a central difference of one node's forward pass; summed over the images.
    private func bruteForceCurvature() throws -> [[Double]] {
        let shapes = try network.activationShapes()
        var weightCurvature = network.nodes.indices.map {
            [Double](repeating: 0, count: network.weights(ofNode: $0).count)
        }
        // Small steps: a central difference across a ReLU or max-pool kink is wrong, and kinks
        // within ±step of an input are rarer the smaller the step.
        let step: Float = 1e-4
        for image in 0..<images.count {
            let values = try Self.values(network, images, image: image)
            let logits = values.last!.map(Double.init)
            let largest = logits.max()!
            let partition = logits.reduce(0) { $0 + exp($1 - largest) }
            var curvature = values.map { [Double](repeating: 0, count: $0.count) }
            curvature[curvature.count - 1] = logits.map {
                let p = exp($0 - largest) / partition
                return p * (1 - p)
            }
            for index in network.nodes.indices.reversed() {
                let inputs = network.inputValues[index].map { values[$0] }
                let outputCurvature = curvature[index + 1]
                func propagate(_ output: (Float) -> [Float]) -> Double {
                    let (plus, minus) = (output(step), output(-step))
                    return zip(outputCurvature, zip(plus, minus)).reduce(0.0) { sum, term in
                        let slope = Double(term.1.0 - term.1.1) / Double(2 * step)
                        return sum + term.0 * slope * slope
                    }
                }
                for (slot, value) in network.inputValues[index].enumerated() where value > 0 {
                    for element in inputs[slot].indices {
                        curvature[value][element] += propagate { delta in
                            var shifted = inputs
                            shifted[slot][element] += delta
                            return evaluate(index, inputs: shifted, shapes: shapes)
                        }
                    }
                }
                for weight in weightCurvature[index].indices {
                    weightCurvature[index][weight] += propagate { delta in
                        var shifted = network
                        shifted.modifyParameters(ofNode: index) { weights, _ in weights[weight] += delta }
                        return GraphNetworkTests(network: shifted, images: images).evaluate(
                            index, inputs: inputs, shapes: shapes)
                    }
                }
            }
        }
        return weightCurvature
    }

    private init(network: Network, images: LabeledImages) {
        self.network = network
        self.images = images
    }

    /// Every value of every image, the normalised input first, through each node's forward pass.
    private static func values(_ network: Network, _ images: LabeledImages, image: Int) throws -> [[Float]] {
        let shapes = try network.activationShapes()
        let pixels = Array(images.pixels[(image * shapes[0].count)..<((image + 1) * shapes[0].count)])
        var values = [
            pixels.enumerated().map { element, pixel in
                let (mean, std) = network.normalization(channel: element % shapes[0].channels)
                return (pixel - mean) / std
            }
        ]
        for index in network.nodes.indices {
            values.append(
                evaluate(network, index, inputs: network.inputValues[index].map { values[$0] }, shapes: shapes))
        }
        return values
    }

    /// The smallest distance of any ReLU, leaky-ReLU or clip input from its kink, and of any
    /// max-pool window's winner from its runner-up, over the images.
    private static func kinkMargin(_ network: Network, _ images: LabeledImages) throws -> Float {
        let shapes = try network.activationShapes()
        var margin = Float.infinity
        for image in 0..<images.count {
            let values = try values(network, images, image: image)
            for index in network.nodes.indices {
                let input = values[network.inputValues[index][0]]
                switch network.nodes[index].operation {
                case is ReLU, is LeakyReLU: margin = min(margin, input.map(abs).min()!)
                case let clip as Clip:
                    margin = min(margin, input.map { min(abs($0 - clip.minimum), abs($0 - clip.maximum)) }.min()!)
                case let pool as MaxPool:
                    let (inShape, outShape) = (shapes[network.inputValues[index][0]], shapes[index + 1])
                    for oy in 0..<outShape.height {
                        for ox in 0..<outShape.width {
                            let bounds = pool.window.window(oy: oy, ox: ox, input: inShape)
                            for channel in 0..<inShape.channels {
                                var window: [Float] = []
                                for row in bounds.top..<bounds.bottom {
                                    for column in bounds.left..<bounds.right {
                                        window.append(
                                            input[(row * inShape.width + column) * inShape.channels + channel])
                                    }
                                }
                                // Ties between ReLU zeros are harmless: neither input moves.
                                let sorted = window.sorted(by: >)
                                if sorted.count > 1 && sorted[0] != 0 { margin = min(margin, sorted[0] - sorted[1]) }
                            }
                        }
                    }
                default: break
                }
            }
        }
        return margin
    }

    @Test func gaussNewtonCurvatureMatchesBruteForceThroughEveryOperation() throws {
        // The brute force moves one input of one node by 1e-4: no kink lies that close.
        #expect(try Self.kinkMargin(network, images) >= 1e-3)
        let sensitivity = try WeightSensitivity.compute(network: network, images: images, batchSize: images.count)
        let expected = try bruteForceCurvature()
        for index in network.weightNodeIndices {
            let scale = expected[index].map(abs).max()!
            #expect(scale > 0)
            let worst = zip(sensitivity.curvature[index], expected[index]).map { abs(Double($0) - $1) }.max()!
            #expect(worst <= 2e-2 * scale, "\(network.nodes[index].name): worst difference \(worst) of \(scale)")
        }
    }

    // MARK: - Batch normalisation, model files, mapping

    @Test func foldedBatchNormGivesTheSameLogits() throws {
        let (folded, names) = try network.foldingBatchNormalization()
        #expect(names == ["bn1"])
        #expect(!folded.nodes.contains { $0.operation is BatchNormalization })
        let (digital, fused) = (try logits(network), try logits(folded))
        let scale = digital.map(abs).max()!
        for (a, b) in zip(digital, fused) { #expect(abs(a - b) <= 1e-5 * scale, "\(a) vs \(b)") }
    }

    @Test func batchNormFeedingSeveralReadersStaysDigital() throws {
        var nodes = network.nodes
        nodes.append(NetworkNode(name: "extra", inputs: ["c1"], operation: ReLU()))
        nodes.append(NetworkNode(name: "out", inputs: ["fc"], operation: Identity()))
        let branched = try Network(
            inputShape: network.inputShape, inputMean: network.inputMean, inputStd: network.inputStd,
            nodes: nodes)
        #expect(try branched.foldingBatchNormalization().folded.isEmpty)
    }

    @Test func graphModelFilesRoundTripExactly() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("graph.h5")
        try network.save(to: path)
        #expect(try Network.load(from: path) == network)
    }

    @Test func groupedConvolutionsMapEachGroupOnArraysOfItsOwn() throws {
        let mapping = CrossbarMapping(
            network: network,
            configuration: MappingConfiguration(
                weightBits: 4, signEncoding: .differential, arrayRows: 16, arrayColumns: 8), cellBits: 2)
        let depthwise = mapping.layers.first { $0.name == "c3" }!
        // 4 groups of one output: 9 rows, 2 slices × 2 sides = 4 bit lines each, one array per group.
        #expect((depthwise.groups, depthwise.rows, depthwise.columns, depthwise.arrays) == (4, 9, 4, 4))
        let grouped = mapping.layers.first { $0.name == "c2" }!
        // 2 groups of 2 outputs: 18 rows (2 row tiles), 8 bit lines per group.
        #expect((grouped.rows, grouped.arrays) == (18, 4))
        // Offset encoding: column tiles never straddle groups.
        let offset = CrossbarMapping(
            network: network,
            configuration: MappingConfiguration(
                weightBits: 4, signEncoding: .offset, arrayRows: 16, arrayColumns: 16), cellBits: 2)
        let offsetGrouped = offset.layers.first { $0.name == "c2" }!
        #expect((0..<4).map(offsetGrouped.referenceTile(ofColumn:)) == [0, 0, 1, 1])  // 2 outputs fit a 16-column tile
        #expect(offset.quantizedNetwork(network).weights(ofNode: 3).count == 72)
    }
}
