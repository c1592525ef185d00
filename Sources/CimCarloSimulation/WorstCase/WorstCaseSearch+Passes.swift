import CimCarloCrossbar
import CimCarloNetwork
import CimCarloSupport
import Foundation
import Synchronization

extension WorstCaseSearch {
    /// What one slot of batches adds up: summed loss, correct count, and per mapped layer the
    /// loss gradient summed over its images.
    private struct SlotSums: Sendable {
        var lossSum = 0.0
        var correct = 0
        var gradient: [[Float]] = []
    }

    /// Most slots a pass keeps (each holds a gradient of every mapped weight).
    static let slotLimit = 16
    /// Floats all slots' gradients may take together (256 MB).
    static let slotFloatBudget = 64 << 20

    /// Accuracy and mean loss of `network` on `images`, and when `gradient` is set the
    /// derivative of the mean cross-entropy with respect to each mapped layer's weights.
    ///
    /// Batch `b` of `batchSize` images goes to slot `b mod S`; each slot sums its batches in
    /// order and the slots are added in order, so the result does not depend on `threads`
    /// (workers take whole slots).
    static func pass(
        _ network: Network, mapping: CrossbarMapping, images: LabeledImages, threads: Int, gradient: Bool
    ) throws -> (evaluation: Evaluation, gradient: [[Float]]?) {
        let batchCount = (images.count + batchSize - 1) / batchSize
        let slots = max(1, min(batchCount, slotLimit, slotFloatBudget / max(mapping.weightCount, 1)))
        let workers = min(threads, slots)
        BLAS.setThreadCount(workers == 1 ? threads : 1)
        let sums = Mutex([SlotSums?](repeating: nil, count: slots))
        let failure = Mutex<(any Error)?>(nil)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            do {
                let workspace = try NetworkWorkspace(network: network, batchCapacity: batchSize)
                var scratch = ParameterGradients(zeroFor: network)
                for slot in stride(from: worker, to: slots, by: workers) {
                    var slotSums = SlotSums()
                    if gradient {
                        slotSums.gradient = mapping.layers.map { [Float](repeating: 0, count: $0.weightCount) }
                    }
                    images.pixels.withUnsafeBufferPointer { pixels in
                        images.labels.withUnsafeBufferPointer { labels in
                            for batch in stride(from: slot, to: batchCount, by: slots) {
                                let start = batch * batchSize
                                let size = min(batchSize, images.count - start)
                                workspace.forward(
                                    network,
                                    pixels: UnsafeBufferPointer(rebasing: pixels[(start * images.pixelsPerImage)...]),
                                    batchSize: size)
                                let (lossSum, correct) = workspace.crossEntropyGradient(
                                    labels: UnsafeBufferPointer(rebasing: labels[start..<(start + size)]),
                                    batchSize: size)
                                slotSums.lossSum += lossSum
                                slotSums.correct += correct
                                guard gradient else { continue }
                                workspace.backward(network, batchSize: size, into: &scratch)
                                // The batch's mean-loss gradient, weighted by its images.
                                let weight = Float(size)
                                for (layer, mapped) in mapping.layers.enumerated() {
                                    for index in slotSums.gradient[layer].indices {
                                        slotSums.gradient[layer][index] +=
                                            weight * scratch.weight[mapped.nodeIndex][index]
                                    }
                                }
                            }
                        }
                    }
                    sums.withLock { $0[slot] = slotSums }
                }
            } catch {
                failure.withLock { if $0 == nil { $0 = error } }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        let finished = sums.withLock { $0.map { $0! } }
        var lossSum = 0.0
        var correct = 0
        var total: [[Float]]? = gradient ? mapping.layers.map { [Float](repeating: 0, count: $0.weightCount) } : nil
        for slot in finished {
            lossSum += slot.lossSum
            correct += slot.correct
            guard gradient else { continue }
            for layer in slot.gradient.indices {
                for index in slot.gradient[layer].indices { total![layer][index] += slot.gradient[layer][index] }
            }
        }
        let count = Double(images.count)
        if gradient {
            let scale = 1 / Float(images.count)
            total = total!.map { $0.map { $0 * scale } }
        }
        return (Evaluation(accuracy: Double(correct) / count, meanLoss: lossSum / count), total)
    }
}
