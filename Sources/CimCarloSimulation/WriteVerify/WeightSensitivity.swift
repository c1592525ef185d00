import CimCarloNetwork
import Foundation

/// First and second derivatives of the training loss with respect to every weight, as SWIM
/// computes them (Yan, Hu, Shi, DAC 2022; reference code github.com/MariusAnje/SWIM):
/// one forward and one backward pass over the training set in batches of 128, with
///
/// - `curvature`: the diagonal Gauss–Newton estimate `S`, seeded with `p (1 − p)` at the
///   logits and propagated through every node as `S_in = Σ S_out · (∂out/∂in)²` (for weight
///   nodes `S_in = S_out · W²`, `S_W = Σ S_out · x²`), summed over samples;
/// - `gradient`: `∂(batch-mean cross-entropy)/∂W`, summed over the batches.
///
/// Both are in raw weight units; `scores` converts to units of the per-layer `max|W|`.
public struct WeightSensitivity: Sendable {
    /// Per network node (empty for nodes without crossbar weights).
    public var curvature: [[Float]]
    public var gradient: [[Float]]
    /// Images the pass covered.
    public var sampleCount: Int

    /// Runs the pass over `images` (NHWC, the training split or a subset).
    public static func compute(network: Network, images: LabeledImages, batchSize: Int = 128) throws
        -> WeightSensitivity
    {
        let workspace = try NetworkWorkspace(network: network, batchCapacity: batchSize)
        var curvature = ParameterGradients(zeroFor: network)
        var gradient = ParameterGradients(zeroFor: network)
        var scratch = ParameterGradients(zeroFor: network)
        images.pixels.withUnsafeBufferPointer { pixels in
            images.labels.withUnsafeBufferPointer { labels in
                for start in stride(from: 0, to: images.count, by: batchSize) {
                    let size = min(batchSize, images.count - start)
                    workspace.forward(
                        network, pixels: UnsafeBufferPointer(rebasing: pixels[(start * images.pixelsPerImage)...]),
                        batchSize: size)
                    _ = workspace.crossEntropyGradient(
                        labels: UnsafeBufferPointer(rebasing: labels[start..<(start + size)]),
                        batchSize: size)
                    workspace.backward(network, batchSize: size, into: &scratch)
                    accumulate(scratch.weight, into: &gradient.weight)
                    workspace.setLogitCurvature(batchSize: size)
                    workspace.backward(network, batchSize: size, into: &scratch, mode: .curvature)
                    accumulate(scratch.weight, into: &curvature.weight)
                }
            }
        }
        return WeightSensitivity(curvature: curvature.weight, gradient: gradient.weight, sampleCount: images.count)
    }

    private static func accumulate(_ values: [[Float]], into sums: inout [[Float]]) {
        for layer in values.indices {
            for index in values[layer].indices { sums[layer][index] += values[layer][index] }
        }
    }

    /// SWIM's ranking score per weight of node `index`:
    /// `|m²·S + 2·m·g| + 1e-6 · |w| / m`, with `m = max|W|` of the layer.
    public func swimScores(network: Network, node index: Int) -> [Float] {
        let weights = network.weights(ofNode: index)
        let m = weights.reduce(0) { max($0, abs($1)) }
        guard m > 0 else { return weights.map { _ in 0 } }
        return weights.indices.map { i in
            abs(m * m * curvature[index][i] + 2 * m * gradient[index][i]) + 1e-6 * abs(weights[i]) / m
        }
    }

    /// The Gauss–Newton curvature in units of `max|W|` (`m²·S`), for the variance-aware score.
    public func normalizedCurvature(network: Network, node index: Int) -> [Float] {
        let m = network.weights(ofNode: index).reduce(0) { max($0, abs($1)) }
        return curvature[index].map { m * m * $0 }
    }

    /// First-order score `|m·g|`.
    public func gradientScores(network: Network, node index: Int) -> [Float] {
        let m = network.weights(ofNode: index).reduce(0) { max($0, abs($1)) }
        return gradient[index].map { abs(m * $0) }
    }
}
