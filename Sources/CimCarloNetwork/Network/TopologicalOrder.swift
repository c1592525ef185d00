/// A stable topological order of a graph's nodes (Kahn's algorithm, always taking the earliest
/// ready node, so an order that already is one stays as it is).
package enum TopologicalOrder {
    /// The nodes in order, given for each node the distinct nodes it reads (`sources`), and the
    /// nodes left out (`stuck`: on a cycle or after one; empty for an acyclic graph).
    package static func of(sources: [[Int]]) -> (order: [Int], stuck: [Int]) {
        var pending = sources.map(\.count)
        var consumers = [[Int]](repeating: [], count: sources.count)
        for (index, reads) in sources.enumerated() {
            for source in reads { consumers[source].append(index) }
        }
        var ready = pending.indices.filter { pending[$0] == 0 }
        var order: [Int] = []
        while !ready.isEmpty {
            let next = ready.removeFirst()
            order.append(next)
            for consumer in consumers[next] {
                pending[consumer] -= 1
                if pending[consumer] == 0 {
                    ready.insert(consumer, at: ready.firstIndex { $0 > consumer } ?? ready.count)
                }
            }
        }
        return (order, pending.indices.filter { pending[$0] > 0 })
    }
}
