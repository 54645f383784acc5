import { ProtoWriter } from './protobuf';

/** Field numbers and enums of onnx.proto (ONNX IR version 8, default domain opset 13). */
const IR_VERSION = 8;
export const OPSET = 13;
const FLOAT = 1;
const INT64 = 7;
const ATTR = { FLOAT: 1, INT: 2, INTS: 7 } as const;

export type Attribute = number | number[] | { float: number };

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, Attribute>;
}

export interface Initializer {
  name: string;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export interface GraphIo {
  name: string;
  /** A string is a symbolic dimension (the batch). */
  shape: (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: Initializer[];
  inputs: GraphIo[];
  outputs: GraphIo[];
}

function writeTensor(w: ProtoWriter, t: Initializer): void {
  w.ints(1, t.dims);
  w.int(2, t.data instanceof Float32Array ? FLOAT : INT64);
  w.string(8, t.name);
  // raw_data is little-endian, which is what typed arrays hold on every platform Node runs on here.
  w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

function writeAttribute(w: ProtoWriter, name: string, value: Attribute): void {
  w.string(1, name);
  if (Array.isArray(value)) w.ints(8, value).int(20, ATTR.INTS);
  else if (typeof value === 'number') w.int(3, value).int(20, ATTR.INT);
  else w.float(2, value.float).int(20, ATTR.FLOAT);
}

function writeValueInfo(w: ProtoWriter, io: GraphIo): void {
  w.string(1, io.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, FLOAT);
      tensor.message(2, (shape) => {
        for (const d of io.shape) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}

/** Serialises a graph as an ONNX ModelProto. */
export function encodeModel(graph: OnnxGraph, metadata: Record<string, string> = {}, producer = 'cxr-studio'): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, IR_VERSION);
  w.string(2, producer);
  w.message(7, (g) => {
    graph.nodes.forEach((n, i) =>
      g.message(1, (node) => {
        node.strings(1, n.inputs).strings(2, n.outputs).string(3, `${n.op}_${i}`).string(4, n.op);
        for (const [name, value] of Object.entries(n.attributes ?? {})) node.message(5, (a) => writeAttribute(a, name, value));
      }),
    );
    g.string(2, graph.name);
    for (const t of graph.initializers) g.message(5, (tensor) => writeTensor(tensor, t));
    for (const io of graph.inputs) g.message(11, (v) => writeValueInfo(v, io));
    for (const io of graph.outputs) g.message(12, (v) => writeValueInfo(v, io));
  });
  w.message(8, (opset) => opset.string(1, '').int(2, OPSET));
  for (const [key, value] of Object.entries(metadata)) w.message(14, (entry) => entry.string(1, key).string(2, value));
  return w.finish();
}
