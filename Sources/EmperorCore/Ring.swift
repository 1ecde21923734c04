/// The newest `capacity` elements of a sequence, oldest first: the emperor's
/// history and event log keep a fixed window in fixed memory.
public struct Ring<Element> {
    public let capacity: Int
    private var storage: [Element] = []
    /// Index of the oldest element once the storage is full.
    private var head = 0

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        storage.reserveCapacity(capacity)
    }

    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.isEmpty }

    /// Adds `element`; past the capacity the oldest goes.
    public mutating func append(_ element: Element) {
        if storage.count < capacity {
            storage.append(element)
        } else {
            storage[head] = element
            head = (head + 1) % capacity
        }
    }

    /// The element `i` places after the oldest.
    public subscript(i: Int) -> Element { storage[(head + i) % storage.count] }

    public var last: Element? { storage.isEmpty ? nil : self[storage.count - 1] }

    /// The newest elements for which `isNewer` holds, oldest first (elements are
    /// in time order, so the search stops at the first that does not).
    public func suffix(while isNewer: (Element) -> Bool) -> [Element] {
        var i = storage.count
        while i > 0 && isNewer(self[i - 1]) { i -= 1 }
        return (i..<storage.count).map { self[$0] }
    }
}

extension Ring: Sendable where Element: Sendable {}
