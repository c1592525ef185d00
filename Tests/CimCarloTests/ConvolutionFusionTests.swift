import CimCarlo
import Foundation
import Testing

@testable import CimCarloNetwork

/// A residual block as ResNets export it — convolution, batch normalisation, addition of the
/// block's input, ReLU — runs in inference passes as one oneDNN convolution with the rest as
/// post-ops, the addition taking over its operand's buffer; the logits agree with im2col + sgemm.
@Suite struct ConvolutionFusionTests {
    /// input → c1 → r1 → c2 → bn2 → add(bn2, r1) → r2 → c3 → add(r2, c3) → flatten → fc: the second
    /// addition has its convolution second and no activation after it.
    static func residualNetwork() -> Network {
        var generator = SplitMix64(seed: 41)
        func values(_ count: Int, scale: Double, offset: Double = 0) -> [Float] {
            (0..<count).map { _ in Float(offset + generator.nextStandardNormal() * scale) }
        }
        func convolution(_ name: String, _ inputs: Int) -> Convolution {
            Convolution(
                name: name, inputChannels: inputs, outputChannels: 16, kernelHeight: 3, kernelWidth: 3, stride: 1,
                padding: 1, weight: values(16 * inputs * 9, scale: 0.15), bias: values(16, scale: 0.1))
        }
        let nodes = [
            NetworkNode(name: "c1", inputs: ["input"], operation: convolution("c1", 3)),
            NetworkNode(name: "r1", inputs: ["c1"], operation: ReLU()),
            NetworkNode(name: "c2", inputs: ["r1"], operation: convolution("c2", 16)),
            NetworkNode(
                name: "bn2", inputs: ["c2"],
                operation: BatchNormalization(
                    channels: 16, gamma: values(16, scale: 0.2, offset: 1), beta: values(16, scale: 0.1),
                    mean: values(16, scale: 0.1), variance: values(16, scale: 0.1, offset: 0.8))),
            NetworkNode(name: "add2", inputs: ["bn2", "r1"], operation: Add()),
            NetworkNode(name: "r2", inputs: ["add2"], operation: ReLU()),
            NetworkNode(name: "c3", inputs: ["r2"], operation: convolution("c3", 16)),
            NetworkNode(name: "add3", inputs: ["r2", "c3"], operation: Add()),
            NetworkNode(name: "flat", inputs: ["add3"], operation: Flatten()),
            NetworkNode(
                name: "fc", inputs: ["flat"],
                operation: Dense(
                    name: "fc", inputs: 16 * 36, outputs: 4, weight: values(4 * 16 * 36, scale: 0.05),
                    bias: values(4, scale: 0.1))),
        ]
        return try! Network(inputShape: ActivationShape(height: 6, width: 6, channels: 3), nodes: nodes)
    }

    @Test func residualBlocksRunAsOneConvolutionAndAgreeWithIm2col() throws {
        let network = Self.residualNetwork()
        let images = makeRandomImages(for: network, count: 7, seed: 5)
        let inference = try NetworkWorkspace(network: network, batchCapacity: images.count, supportsBackward: false)
        let training = try NetworkWorkspace(network: network, batchCapacity: images.count)
        func index(_ name: String) -> Int { network.nodeIndex(named: name)! }

        // Each addition works in place on its convolution's value, and the convolution computes it.
        let buffers = inference.valueBuffer
        #expect(buffers[index("add2") + 1] == buffers[index("bn2") + 1])
        #expect(buffers[index("add3") + 1] == buffers[index("c3") + 1])
        let fusions = try #require(inference.kernels).fusions
        #expect(fusions[index("c2")]?.residual?.node == index("add2"))
        #expect(fusions[index("c2")]?.residual?.value == index("r1") + 1)
        #expect(fusions[index("c2")]?.activation == index("r2"))
        #expect(fusions[index("c2")]?.followers == 3)
        #expect(fusions[index("c3")]?.residual?.node == index("add3"))
        #expect(fusions[index("c3")]?.followers == 1)

        let logits = images.pixels.withUnsafeBufferPointer { pixels in
            [inference, training].map { Array($0.forward(network, pixels: pixels, batchSize: images.count)) }
        }
        let scale = logits[1].map(abs).max()!
        for (fused, reference) in zip(logits[0], logits[1]) {
            #expect(abs(fused - reference) <= 1e-5 * scale, "\(fused) vs \(reference)")
        }
    }
}
