import CimCarlo
import Foundation
import Testing

@testable import CimCarloNetwork

/// The direct convolution of layers with few channels (`Sources/CKernels/direct_convolution.c`):
/// inference passes through it agree with im2col + sgemm, its fused batch normalisation and
/// activation included, and its AVX-512, AVX2 and baseline versions give the same bits.
@Suite struct DirectConvolutionTests {
    /// A first layer the direct kernel takes, and its input.
    struct Case: Sendable, CustomTestStringConvertible {
        var channels: Int, outputs: Int, height: Int, width: Int, kernel: (Int, Int), pads: (Int, Int, Int, Int)
        var testDescription: String {
            "\(channels)→\(outputs) on \(height)×\(width), kernel \(kernel), pads \(pads)"
        }

        func convolution(seed: UInt64) -> Convolution {
            var generator = SplitMix64(seed: seed)
            func values(_ count: Int) -> [Float] {
                (0..<count).map { _ in Float(generator.nextOpenUnitInterval() - 0.5) }
            }
            return Convolution(
                name: "c", inputChannels: channels, outputChannels: outputs, kernelHeight: kernel.0,
                kernelWidth: kernel.1, padTop: pads.0, padLeft: pads.1, padBottom: pads.2, padRight: pads.3,
                weight: values(outputs * channels * kernel.0 * kernel.1), bias: values(outputs))
        }

        var inputShape: ActivationShape { ActivationShape(height: height, width: width, channels: channels) }
    }

    static let cases: [Case] = [
        Case(channels: 1, outputs: 6, height: 28, width: 28, kernel: (5, 5), pads: (2, 2, 2, 2)),  // LeNet-5
        Case(channels: 3, outputs: 15, height: 9, width: 33, kernel: (3, 3), pads: (1, 0, 2, 1)),
        Case(channels: 2, outputs: 4, height: 5, width: 16, kernel: (1, 1), pads: (0, 0, 0, 0)),
        Case(channels: 4, outputs: 9, height: 7, width: 17, kernel: (2, 5), pads: (0, 3, 1, 0)),
        Case(channels: 1, outputs: 1, height: 3, width: 3, kernel: (3, 3), pads: (0, 0, 0, 0)),
    ]

    /// Logits of `network` on `images`, by an inference workspace (native kernels) or a training
    /// one (im2col + sgemm).
    private func logits(_ network: Network, _ images: LabeledImages, inference: Bool) throws -> [Float] {
        let workspace = try NetworkWorkspace(
            network: network, batchCapacity: images.count, supportsBackward: !inference)
        return images.pixels.withUnsafeBufferPointer {
            Array(workspace.forward(network, pixels: $0, batchSize: images.count))
        }
    }

    @Test(arguments: cases)
    func inferenceAgreesWithIm2colAndSgemm(_ test: Case) throws {
        let convolution = test.convolution(seed: UInt64(test.outputs * 31 + test.width))
        let outputs = try convolution.outputShape(for: [test.inputShape]).count
        let followers: [[any NetworkOperation]] = [
            [],
            [ReLU()],
            [
                BatchNormalization(
                    channels: test.outputs, gamma: (0..<test.outputs).map { 1 + Float($0) / 10 },
                    beta: (0..<test.outputs).map { Float($0) / 20 - 0.2 },
                    mean: (0..<test.outputs).map { Float($0) / 30 },
                    variance: Array(repeating: 0.8, count: test.outputs)),
                Clip(minimum: -0.1, maximum: 0.3),
            ],
        ]
        for after in followers {
            let network = Network(
                inputShape: test.inputShape,
                layers: [convolution] + after + [
                    Flatten(),
                    Dense(
                        name: "fc", inputs: outputs, outputs: 3,
                        weight: (0..<(3 * outputs)).map { Float(($0 * 7) % 13) / 13 - 0.5 }, bias: [0.1, 0, -0.1]),
                ])
            let images = makeRandomImages(for: network, count: 5, seed: 3)
            let (direct, reference) = (
                try logits(network, images, inference: true), try logits(network, images, inference: false)
            )
            let scale = reference.map(abs).max()!
            for (a, b) in zip(direct, reference) { #expect(abs(a - b) <= 2e-5 * scale, "\(after): \(a) vs \(b)") }
        }
    }

    @Test(arguments: cases)
    func everyVersionGivesTheSameBits(_ test: Case) throws {
        let convolution = test.convolution(seed: 7)
        var generator = SplitMix64(seed: 8)
        let batch = 3
        let input = (0..<(batch * test.inputShape.count)).map { _ in Float(generator.nextOpenUnitInterval()) }
        let baseline = try #require(
            try NativeKernels.directConvolution(
                convolution, input: input, inputShape: test.inputShape, batch: batch, relu: true, version: 0))
        #expect(baseline.allSatisfy { $0.isFinite })
        var compared = 0
        for version in 1...2 {
            guard
                let output = try NativeKernels.directConvolution(
                    convolution, input: input, inputShape: test.inputShape, batch: batch, relu: true, version: version)
            else { continue }
            compared += 1
            #expect(output.map(\.bitPattern) == baseline.map(\.bitPattern), "version \(version)")
        }
        #expect(compared > 0, "this CPU has neither AVX2 nor AVX-512: nothing to compare")
    }

    @Test func wideOrStridedLayersAreLeftToOneDNN() throws {
        let shape = ActivationShape(height: 8, width: 8, channels: 3)
        let wide = Case(channels: 3, outputs: 16, height: 8, width: 8, kernel: (3, 3), pads: (1, 1, 1, 1))
        let strided = Convolution(
            name: "s", inputChannels: 3, outputChannels: 4, kernelHeight: 3, kernelWidth: 3, stride: 2, padding: 1,
            weight: Array(repeating: 0.1, count: 108), bias: Array(repeating: 0, count: 4))
        for convolution in [wide.convolution(seed: 1), strided] {
            let output = try NativeKernels.directConvolution(
                convolution, input: [], inputShape: shape, batch: 0, relu: false, version: 0)
            #expect(output == nil, "\(convolution.outputChannels) outputs, stride \(convolution.strideHeight)")
        }
    }
}
