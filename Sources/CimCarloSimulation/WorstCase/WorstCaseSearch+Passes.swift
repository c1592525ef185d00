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

    /// Slots of batches a pass over `images` sums its gradient in: at most `slotLimit`, fewer
    /// when the gradients would not fit `slotFloatBudget`. Depends on the images and the
    /// network, never on threads.
    static func slotCount(images: LabeledImages, mapping: CrossbarMapping) -> Int {
        let batchCount = (images.count + batchSize - 1) / batchSize
        return max(1, min(batchCount, slotLimit, slotFloatBudget / max(mapping.weightCount, 1)))
    }

    /// One backward workspace per worker of the passes over `images` (made once: a workspace
    /// of a ResNet takes a fifth of a second to allocate).
    static func makeWorkspaces(network: Network, mapping: CrossbarMapping, images: LabeledImages, threads: Int) throws
        -> PassWorkspaces
    {
        let workers = min(threads, slotCount(images: images, mapping: mapping))
        return PassWorkspaces(
            try (0..<workers).map { _ in try NetworkWorkspace(network: network, batchCapacity: batchSize) },
            blasThreads: workers == 1 ? threads : 1)
    }

    /// Accuracy and mean loss of `network` on `images`, and when `gradient` is set the
    /// derivative of the mean cross-entropy with respect to each mapped layer's weights, with
    /// one worker per workspace of `workspaces` (made for `network`'s shape, by
    /// `makeWorkspaces`).
    ///
    /// Batch `b` of `batchSize` images goes to slot `b mod S`; each slot sums its batches in
    /// order and the slots are added in order, so the result does not depend on the workers
    /// (they take whole slots).
    static func pass(
        _ network: Network, mapping: CrossbarMapping, images: LabeledImages, workspaces: PassWorkspaces,
        gradient: Bool
    ) -> (evaluation: Evaluation, gradient: [[Float]]?) {
        let batchCount = (images.count + batchSize - 1) / batchSize
        let slots = slotCount(images: images, mapping: mapping)
        let workers = workspaces.count
        precondition(workers >= 1 && workers <= slots)
        BLAS.setThreadCount(workspaces.blasThreads)
        let sums = Mutex([SlotSums?](repeating: nil, count: slots))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let workspace = workspaces[worker]
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
        }
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

/// The workspaces of a search's passes, one per worker. `@unchecked Sendable` because
/// `NetworkWorkspace` is not: worker `w` of a pass alone uses workspace `w`, the passes run
/// one after another, and the array is never changed after it is made.
final class PassWorkspaces: @unchecked Sendable {
    private let workspaces: [NetworkWorkspace]
    /// OpenBLAS threads inside a worker: all of them when one worker runs, else 1.
    let blasThreads: Int

    init(_ workspaces: [NetworkWorkspace], blasThreads: Int) {
        self.workspaces = workspaces
        self.blasThreads = blasThreads
    }

    var count: Int { workspaces.count }
    subscript(worker: Int) -> NetworkWorkspace { workspaces[worker] }
}
