import * as protobuf from 'protobufjs';
import { ONNX_PROTO } from './schema';

// int64 fields decode as JS numbers rather than Long objects: dims, attribute ints and offsets are
// far below 2^53, and the element data of int64 tensors stays in raw bytes.
(protobuf.util as { Long?: unknown }).Long = undefined;
protobuf.configure();

let modelType: protobuf.Type | undefined;

/** The protobufjs type of onnx.ModelProto, parsed from the schema once. */
export function modelProtoType(): protobuf.Type {
  if (!modelType) {
    const root = protobuf.parse(ONNX_PROTO, { keepCase: true }).root;
    modelType = root.lookupType('onnx.ModelProto');
  }
  return modelType;
}

/** A decoded protobuf message as a plain record (field names as in onnx.proto). */
export type ProtoRecord = Record<string, unknown>;
