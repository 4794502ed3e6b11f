#include <criterion/criterion.h>
#include <string.h>
#include "nota/tensor.h"

Test(tensor, new_is_zeroed_and_owned) {
    int64_t s[3] = {2, 3, 4};
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 3, s, &t), NOTA_OK);
    cr_assert_eq(t->nbytes, 96u);
    cr_assert_eq(nota_tensor_numel(t), 24u);
    cr_assert_eq(nota_tensor_row_size(t), 12u);
    cr_assert(t->owns_data);
    for (int i = 0; i < 24; i++) cr_assert_eq(nota_tensor_f32(t)[i], 0.0f);
    cr_assert_null(nota_tensor_u8(t));
    nota_tensor_free(t);
}

Test(tensor, shape_overflow_is_refused) {
    int64_t s[3] = {INT64_C(1) << 40, INT64_C(1) << 40, 16};
    size_t n;
    cr_assert_eq(nota_shape_size(3, s, NOTA_F32, &n, NULL), NOTA_ELIMIT);
    cr_assert_str_eq(nota_last_error(), "element count overflows at dimension 1 (1099511627776)");
}

Test(tensor, bad_dims_are_refused) {
    int64_t s[2] = {3, 0};
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new(NOTA_F32, 2, s, &t), NOTA_EINVAL);
    cr_assert_null(t);
    cr_assert_str_eq(nota_last_error(), "dimension 1 is 0, expected >= 1");
    int64_t s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    cr_assert_eq(nota_tensor_new(NOTA_F32, 9, s9, &t), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "ndim 9 outside 0..8");
}

Test(tensor, rows_view_borrows) {
    nota_tensor *t, *v;
    cr_assert_eq(nota_tensor_new_2d(4, 2, &t), NOTA_OK);
    for (int i = 0; i < 8; i++) nota_tensor_f32(t)[i] = (float)i;
    cr_assert_eq(nota_tensor_rows(t, 1, 2, &v), NOTA_OK);
    cr_assert_eq(v->shape[0], 2);
    cr_assert_eq(nota_tensor_f32(v)[0], 2.0f);
    cr_assert(!v->owns_data);
    nota_tensor_free(v);
    cr_assert_eq(nota_tensor_rows(t, 3, 2, &v), NOTA_EINVAL);
    cr_assert_str_eq(nota_last_error(), "rows [3, 5) outside a tensor of 4 rows");
    nota_tensor_free(t);
}

Test(tensor, reshape_keeps_count) {
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new_2d(4, 6, &t), NOTA_OK);
    int64_t ok[3] = {4, 2, 3}, bad[2] = {5, 5};
    cr_assert_eq(nota_tensor_reshape(t, 3, ok), NOTA_OK);
    cr_assert_eq(nota_tensor_reshape(t, 2, bad), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(),
                     "cannot reshape (4, 2, 3) to (5, 5): element counts differ");
    nota_tensor_free(t);
}

Test(tensor, nan_is_named) {
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new_2d(3, 4, &t), NOTA_OK);
    nota_tensor_f32(t)[6] = 0.0f / 0.0f;
    cr_assert_eq(nota_tensor_check_finite(t, "train data"), NOTA_ENUMERIC);
    cr_assert_str_eq(nota_last_error(), "train data: item 1, element 2 is NaN (expected finite)");
    nota_tensor_free(t);
}

Test(tensor, expect_reports_both_shapes) {
    nota_tensor *t;
    cr_assert_eq(nota_tensor_new_2d(10, 5, &t), NOTA_OK);
    int64_t want[2] = {-1, 7};
    cr_assert_eq(nota_tensor_expect(t, "prior input", NOTA_F32, 2, want), NOTA_ESHAPE);
    cr_assert_str_eq(nota_last_error(),
                     "prior input: expected shape (-1, 7) (-1 = any), found (10, 5)");
    nota_tensor_free(t);
}
