import Foundation

/// A TOML value: the subset run specs and device models use (strings, integers, floats,
/// booleans, arrays, tables). Dates and arrays of tables are rejected with a clear error.
package indirect enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    case array([TOMLValue])
    case table(TOMLTable)

    /// The TOML type name, for error messages.
    var typeName: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a float"
        case .boolean: "a boolean"
        case .array: "an array"
        case .table: "a table"
        }
    }
}

/// A TOML table: keys in document order, each with its value and the line it was set on.
package struct TOMLTable: Equatable, Sendable {
    private(set) var keys: [String] = []
    private var values: [String: TOMLValue] = [:]
    private var lines: [String: Int] = [:]
    /// Whether the table was opened by a `[header]` (so a second header is a redefinition).
    fileprivate var definedByHeader = false

    init() {}

    subscript(key: String) -> TOMLValue? { values[key] }

    /// The line (1-based) where `key` was set.
    func line(of key: String) -> Int? { lines[key] }

    fileprivate mutating func set(_ key: String, _ value: TOMLValue, line: Int) {
        if values[key] == nil { keys.append(key) }
        values[key] = value
        lines[key] = line
    }
}

/// A syntax error in a TOML document, with its 1-based line.
public struct TOMLSyntaxError: CimCarloError, Equatable {
    public var kind: CimCarloErrorKind { .badInput }
    public var line: Int
    public var message: String
    public var description: String { "line \(line): \(message)" }
}

/// A small recursive-descent TOML parser (TOML 1.0 subset, see `TOMLValue`).
enum TOMLParser {
    static func parse(_ text: String) throws -> TOMLTable {
        var parser = Parser(bytes: Array(text.utf8))
        return try parser.document()
    }
}

private struct Parser {
    let bytes: [UInt8]
    var position = 0
    var line = 1
    var root = TOMLTable()
    var currentTable: [String] = []

    init(bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { position >= bytes.count }
    var current: UInt8? { atEnd ? nil : bytes[position] }

    func fail(_ message: String) -> TOMLSyntaxError { TOMLSyntaxError(line: line, message: message) }

    mutating func advance() {
        if bytes[position] == UInt8(ascii: "\n") { line += 1 }
        position += 1
    }

    mutating func skipSpaces() {
        while let byte = current, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { advance() }
    }

    mutating func skipComment() {
        if current == UInt8(ascii: "#") {
            while let byte = current, byte != UInt8(ascii: "\n") { advance() }
        }
    }

    /// Skips whitespace, newlines and comments (between array elements and document lines).
    mutating func skipBlank() {
        while true {
            skipSpaces()
            skipComment()
            if let byte = current, byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                advance()
            } else {
                return
            }
        }
    }

    mutating func endOfLine() throws {
        skipSpaces()
        skipComment()
        if current == UInt8(ascii: "\r") { advance() }
        guard atEnd || current == UInt8(ascii: "\n") else {
            throw fail("expected the end of the line, found `\(String(decoding: [current!], as: UTF8.self))`")
        }
    }

    mutating func document() throws -> TOMLTable {
        while true {
            skipBlank()
            guard let byte = current else { return root }
            if byte == UInt8(ascii: "[") {
                try tableHeader()
            } else {
                let keyLine = line
                let path = try keyPath()
                skipSpaces()
                guard current == UInt8(ascii: "=") else {
                    throw fail("expected `=` after key `\(path.joined(separator: "."))`")
                }
                advance()
                skipSpaces()
                let value = try self.value()
                try insert(value, at: currentTable + path, line: keyLine)
            }
            try endOfLine()
        }
    }

    mutating func tableHeader() throws {
        advance()
        if current == UInt8(ascii: "[") { throw fail("arrays of tables (`[[...]]`) are not supported") }
        skipSpaces()
        let path = try keyPath()
        skipSpaces()
        guard current == UInt8(ascii: "]") else { throw fail("expected `]` to close the table header") }
        advance()
        try openTable(path, line: line)
        currentTable = path
    }

    mutating func keyPath() throws -> [String] {
        var path = [try key()]
        skipSpaces()
        while current == UInt8(ascii: ".") {
            advance()
            skipSpaces()
            path.append(try key())
            skipSpaces()
        }
        return path
    }

    mutating func key() throws -> String {
        if current == UInt8(ascii: "\"") { return try basicString() }
        if current == UInt8(ascii: "'") { return try literalString() }
        let start = position
        while let byte = current, isBareKeyByte(byte) { advance() }
        guard position > start else {
            throw fail(
                atEnd
                    ? "expected a key, found the end of the file"
                    : "expected a key, found `\(String(decoding: [current!], as: UTF8.self))`")
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    func isBareKeyByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
            || byte == UInt8(ascii: "-")
    }

    mutating func value() throws -> TOMLValue {
        guard let byte = current else { throw fail("expected a value, found the end of the file") }
        switch byte {
        case UInt8(ascii: "\""):
            if bytes[position...].starts(with: Array("\"\"\"".utf8)) {
                throw fail("multi-line strings are not supported")
            }
            return .string(try basicString())
        case UInt8(ascii: "'"):
            return .string(try literalString())
        case UInt8(ascii: "["):
            return try array()
        case UInt8(ascii: "{"):
            return try inlineTable()
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            if bytes[position...].starts(with: Array("true".utf8)) {
                position += 4
                return .boolean(true)
            }
            if bytes[position...].starts(with: Array("false".utf8)) {
                position += 5
                return .boolean(false)
            }
            throw fail("expected a value (a string needs quotes)")
        default:
            return try number()
        }
    }

    mutating func number() throws -> TOMLValue {
        let start = position
        while let byte = current, isBareKeyByte(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".") {
            advance()
        }
        let raw = String(decoding: bytes[start..<position], as: UTF8.self)
        let text = raw.replacingOccurrences(of: "_", with: "")
        guard !text.isEmpty else { throw fail("expected a value") }
        switch text {
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan", "-nan": return .float(.nan)
        default: break
        }
        if text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
            guard let first = text.first, first.isNumber || first == "-" || first == "+", let value = Double(text)
            else {
                throw fail("`\(raw)` is not a number (a string needs quotes)")
            }
            return .float(value)
        }
        guard let value = Int64(text) else {
            if text.contains("-"), text.dropFirst().contains("-") {
                throw fail("dates and times are not supported (`\(raw)`)")
            }
            throw fail("`\(raw)` is not a number (a string needs quotes)")
        }
        return .integer(value)
    }

    mutating func basicString() throws -> String {
        advance()  // opening quote
        var result: [UInt8] = []
        while true {
            guard let byte = current, byte != UInt8(ascii: "\n") else { throw fail("unterminated string") }
            advance()
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") {
                guard let escape = current else { throw fail("unterminated string") }
                advance()
                switch escape {
                case UInt8(ascii: "\""): result.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): result.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "n"): result.append(UInt8(ascii: "\n"))
                case UInt8(ascii: "t"): result.append(UInt8(ascii: "\t"))
                case UInt8(ascii: "r"): result.append(UInt8(ascii: "\r"))
                case UInt8(ascii: "b"): result.append(8)
                case UInt8(ascii: "f"): result.append(12)
                case UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let digits = escape == UInt8(ascii: "u") ? 4 : 8
                    guard position + digits <= bytes.count,
                        let scalarValue = UInt32(
                            String(decoding: bytes[position..<(position + digits)], as: UTF8.self), radix: 16),
                        let scalar = Unicode.Scalar(scalarValue)
                    else {
                        throw fail("invalid unicode escape in string")
                    }
                    position += digits
                    result.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    throw fail("invalid escape `\\\(String(decoding: [escape], as: UTF8.self))` in string")
                }
            } else {
                result.append(byte)
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    mutating func literalString() throws -> String {
        advance()
        let start = position
        while let byte = current, byte != UInt8(ascii: "'") {
            guard byte != UInt8(ascii: "\n") else { throw fail("unterminated string") }
            advance()
        }
        guard !atEnd else { throw fail("unterminated string") }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        advance()
        return text
    }

    mutating func array() throws -> TOMLValue {
        advance()
        var elements: [TOMLValue] = []
        while true {
            skipBlank()
            if current == UInt8(ascii: "]") {
                advance()
                return .array(elements)
            }
            elements.append(try value())
            skipBlank()
            if current == UInt8(ascii: ",") {
                advance()
                continue
            }
            guard current == UInt8(ascii: "]") else { throw fail("expected `,` or `]` in array") }
        }
    }

    mutating func inlineTable() throws -> TOMLValue {
        advance()
        var table = TOMLTable()
        skipSpaces()
        if current == UInt8(ascii: "}") {
            advance()
            return .table(table)
        }
        while true {
            skipSpaces()
            let keyLine = line
            let path = try keyPath()
            skipSpaces()
            guard current == UInt8(ascii: "=") else { throw fail("expected `=` in inline table") }
            advance()
            skipSpaces()
            let value = try self.value()
            let errorLine = line
            try Self.insert(value, at: path, into: &table, line: keyLine) {
                TOMLSyntaxError(line: errorLine, message: $0)
            }
            skipSpaces()
            if current == UInt8(ascii: ",") {
                advance()
                continue
            }
            guard current == UInt8(ascii: "}") else { throw fail("expected `,` or `}` in inline table") }
            advance()
            return .table(table)
        }
    }

    mutating func insert(_ value: TOMLValue, at path: [String], line: Int) throws {
        let errorLine = self.line
        try Self.insert(value, at: path, into: &root, line: line) { TOMLSyntaxError(line: errorLine, message: $0) }
    }

    static func insert(
        _ value: TOMLValue, at path: [String], into table: inout TOMLTable, line: Int,
        fail: (String) -> TOMLSyntaxError
    ) throws {
        let key = path[0]
        if path.count == 1 {
            guard table[key] == nil else { throw fail("key `\(key)` is defined twice") }
            table.set(key, value, line: line)
            return
        }
        var child: TOMLTable
        switch table[key] {
        case nil: child = TOMLTable()
        case let .table(existing): child = existing
        default: throw fail("key `\(key)` is not a table")
        }
        try insert(value, at: Array(path.dropFirst()), into: &child, line: line, fail: fail)
        table.set(key, .table(child), line: table.line(of: key) ?? line)
    }

    mutating func openTable(_ path: [String], line: Int) throws {
        let fail = { (message: String) in TOMLSyntaxError(line: line, message: message) }
        func open(_ path: ArraySlice<String>, in table: inout TOMLTable) throws {
            let key = path.first!
            var child: TOMLTable
            switch table[key] {
            case nil: child = TOMLTable()
            case let .table(existing): child = existing
            default: throw fail("`\(key)` is already a value, not a table")
            }
            if path.count == 1 {
                guard !child.definedByHeader else { throw fail("table [\(key)] is defined twice") }
                child.definedByHeader = true
            } else {
                try open(path.dropFirst(), in: &child)
            }
            table.set(key, .table(child), line: table.line(of: key) ?? line)
        }
        try open(path[...], in: &root)
    }
}
