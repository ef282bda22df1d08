import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cleanOrtMessage } from '../../../src/runtime/ortMessage';

describe("cleanOrtMessage: onnxruntime's words without its C++ source locations", () => {
  const cases: Array<[string, string]> = [
    [
      '[ONNXRuntimeError] : 1 : FAIL : model_load_utils.h:46 void onnxruntime::model_load_utils::ValidateOpsetForDomain(const std::unordered_map<std::basic_string<char>, int>&, const onnxruntime::logging::Logger&, bool, const std::string&, int) ONNX Runtime only *guarantees* support for models stamped with official released onnx opset versions. Opset 99 is under development',
      'ONNX Runtime only *guarantees* support for models stamped with official released onnx opset versions. Opset 99 is under development',
    ],
    [
      "tensorprotoutils.cc:1463 ValidateEmbeddedTensorProtoDataSizeAndShape Initializer 'layers.0.bias' declares a size of 8589934592 bytes",
      "Initializer 'layers.0.bias' declares a size of 8589934592 bytes",
    ],
    [
      "Non-zero status code returned while running Add node. Name:'add' Status Message: /onnxruntime_src/onnxruntime/core/providers/cpu/math/element_wise_ops.h:560 void onnxruntime::BroadcastIterator::Append(ptrdiff_t, ptrdiff_t) axis == 1 || axis == largest was false. Attempting to broadcast an axis by a dimension other than 1. 3 by 4",
      "Non-zero status code returned while running Add node. Name:'add' Status Message: axis == 1 || axis == largest was false. Attempting to broadcast an axis by a dimension other than 1. 3 by 4",
    ],
    [
      "Non-zero status code returned while running ConstantOfShape node. Name:'fill' Status Message: /onnxruntime_src/onnxruntime/core/framework/op_kernel.cc:83 virtual OrtValue* onnxruntime::OpKernelContext::OutputMLValue(int, const onnxruntime::TensorShape&) [ONNXRuntimeError] : 1 : FAIL : Calculation for Tensor storage size overflowed",
      "Non-zero status code returned while running ConstantOfShape node. Name:'fill' Status Message: Calculation for Tensor storage size overflowed",
    ],
    ['Load model from memory failed:Node (x) Op (Foo) [ShapeInferenceError] bad', 'Load model from memory failed:Node (x) Op (Foo) [ShapeInferenceError] bad'],
  ];
  for (const [raw, clean] of cases) {
    it(`keeps "${clean.slice(0, 60)}..."`, () => assert.equal(cleanOrtMessage(raw), clean));
  }
});
