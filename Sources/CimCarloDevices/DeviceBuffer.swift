/// A fixed-size buffer of device values that frees its memory when the last reference goes,
/// padded to whole SIMD lanes and zeroed.
package final class DeviceBuffer<Element>: @unchecked Sendable {
    let storage: UnsafeMutableBufferPointer<Element>

    /// `count` elements (rounded up to a multiple of 8), each `zero`.
    package init(count: Int, zero: Element) {
        storage = .allocate(capacity: max(8, (count + 7) & ~7))
        storage.initialize(repeating: zero)
    }

    deinit { storage.deallocate() }

    package var base: UnsafeMutablePointer<Element> { storage.baseAddress! }
    package var count: Int { storage.count }

    package subscript(index: Int) -> Element {
        get { storage[index] }
        set { storage[index] = newValue }
    }
}

extension DeviceBuffer where Element == Float {
    package convenience init(count: Int) { self.init(count: count, zero: 0) }
}
