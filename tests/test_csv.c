/* The CSV reader: quoting, line endings, and messages that name the place. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "io/csv.h"

static lm_status load(lm_csv *csv, const char *text)
{
    return lm_csv_load_string(csv, "t.csv", text, strlen(text));
}

START_TEST(quoted_fields_keep_commas_and_quotes)
{
    lm_csv csv;
    ck_assert_lm_ok(load(&csv, "id,st,breaks\n0,1,\"1,2,3\"\n1,2,\"say \"\"hi\"\"\"\n"));
    ck_assert_uint_eq(csv.n_cols, 3);
    ck_assert_uint_eq(csv.n_rows, 2);
    ck_assert_str_eq(csv.cells[0][2], "1,2,3");
    ck_assert_str_eq(csv.cells[1][2], "say \"hi\"");
    ck_assert_uint_eq(csv.line[1], 3);
    lm_csv_free(&csv);
}
END_TEST

START_TEST(crlf_and_missing_final_newline)
{
    lm_csv csv;
    ck_assert_lm_ok(load(&csv, "a,b\r\n1,2\r\n3,\"x\r\ny\"\r\n5,6"));
    ck_assert_uint_eq(csv.n_rows, 3);
    ck_assert_str_eq(csv.header[1], "b");
    ck_assert_str_eq(csv.cells[0][1], "2");
    ck_assert_str_eq(csv.cells[1][1], "x\r\ny");
    ck_assert_str_eq(csv.cells[2][1], "6");
    /* The quoted newline counts: row 3 starts on line 5. */
    ck_assert_uint_eq(csv.line[2], 5);
    int64_t v = 0;
    ck_assert_lm_ok(lm_csv_int(&csv, 2, 0, &v));
    ck_assert_int_eq(v, 5);
    lm_csv_free(&csv);
}
END_TEST

START_TEST(wrong_field_count_names_the_line)
{
    lm_csv csv;
    ck_assert_lm_status(load(&csv, "a,b,c\n1,2,3\n4,5\n"), LM_ERR_PARSE);
    ck_assert_str_eq(lm_last_error(), "t.csv:3: expected 3 fields, found 2");
    ck_assert_lm_status(load(&csv, "a,b\n1,\"2\n"), LM_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "t.csv:2: unterminated"));
    ck_assert_lm_status(load(&csv, ""), LM_ERR_PARSE);
}
END_TEST

START_TEST(missing_column_is_named)
{
    lm_csv csv;
    ck_assert_lm_ok(load(&csv, "id,st,end\n0,0,1\n"));
    size_t col = 99;
    ck_assert_lm_ok(lm_csv_column(&csv, "end", &col));
    ck_assert_uint_eq(col, 2);
    ck_assert_lm_status(lm_csv_column(&csv, "time", &col), LM_ERR_PARSE);
    ck_assert_str_eq(lm_last_error(), "t.csv: no column 'time'");
    lm_csv_free(&csv);
}
END_TEST

START_TEST(bad_numbers_name_line_and_column)
{
    lm_csv csv;
    ck_assert_lm_ok(load(&csv, "id,time\n0,1.5\n1,fast\n2,3x\n3,1e999\n"));
    double d = 0;
    int64_t i = 0;
    ck_assert_lm_ok(lm_csv_double(&csv, 0, 1, &d));
    ck_assert_double_eq(d, 1.5);
    ck_assert_lm_status(lm_csv_double(&csv, 1, 1, &d), LM_ERR_PARSE);
    ck_assert_str_eq(lm_last_error(),
                     "t.csv:3:3: column 'time': expected a number, found 'fast'");
    ck_assert_lm_status(lm_csv_double(&csv, 2, 1, &d), LM_ERR_PARSE);
    ck_assert_lm_status(lm_csv_double(&csv, 3, 1, &d), LM_ERR_PARSE);
    ck_assert_lm_status(lm_csv_int(&csv, 0, 1, &i), LM_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "t.csv:2:3: column 'time'"));
    ck_assert_lm_status(lm_csv_int(&csv, 9, 0, &i), LM_ERR_INVALID_ARG);
    lm_csv_free(&csv);
}
END_TEST

/* One number syntax with the YAML reader (core/util.h): decimal with an
 * optional sign and exponent, nothing else. */
START_TEST(numbers_are_decimal_only)
{
    lm_csv csv;
    ck_assert_lm_ok(load(&csv, "id,time\n0,-1.5e-3\n1,.5\n2,+7.\n3,0x1p3\n"
                               "4,inf\n5,nan\n6, 1\n7,1e\n8,-\n9,1e-400\n"));
    double d = 0;
    ck_assert_lm_ok(lm_csv_double(&csv, 0, 1, &d));
    ck_assert(d == -1.5e-3);
    ck_assert_lm_ok(lm_csv_double(&csv, 1, 1, &d));
    ck_assert(d == 0.5);
    ck_assert_lm_ok(lm_csv_double(&csv, 2, 1, &d));
    ck_assert(d == 7.0);
    ck_assert_lm_status(lm_csv_double(&csv, 3, 1, &d), LM_ERR_PARSE);
    ck_assert_str_eq(lm_last_error(),
                     "t.csv:5:3: column 'time': expected a number, found '0x1p3'");
    for (size_t r = 4; r <= 8; r++)
        ck_assert_lm_status(lm_csv_double(&csv, r, 1, &d), LM_ERR_PARSE);
    /* Underflow reads as 0, like the YAML reader. */
    ck_assert_lm_ok(lm_csv_double(&csv, 9, 1, &d));
    ck_assert(d == 0.0);
    lm_csv_free(&csv);
}
END_TEST

/* A NUL byte would cut a cell short ("1\0002" read as 1). */
START_TEST(nul_byte_is_refused_with_its_place)
{
    lm_csv csv;
    static const char text[] = "id,time\n0,1\0002\n";
    ck_assert_lm_status(
        lm_csv_load_string(&csv, "t.csv", text, sizeof text - 1),
        LM_ERR_PARSE);
    ck_assert_str_eq(lm_last_error(), "t.csv:2:4: NUL byte in a field");
    static const char quoted[] = "id,time\n0,\"a\nb\0\"\n";
    ck_assert_lm_status(
        lm_csv_load_string(&csv, "t.csv", quoted, sizeof quoted - 1),
        LM_ERR_PARSE);
    ck_assert_str_eq(lm_last_error(), "t.csv:3:2: NUL byte in a field");
}
END_TEST

START_TEST(duplicate_column_is_refused)
{
    lm_csv csv;
    ck_assert_lm_status(load(&csv, "id,time,stdev,time\n0,1,2,3\n"),
                        LM_ERR_PARSE);
    ck_assert_str_eq(lm_last_error(), "t.csv:1:15: column 'time' appears "
                                      "twice (first at column 4)");
    /* Unnamed columns (pandas' index) are never looked up. */
    ck_assert_lm_ok(load(&csv, ",,id\n0,1,2\n"));
    lm_csv_free(&csv);
}
END_TEST

START_TEST(file_round_trip_with_written_fields)
{
    char *dir = lm_test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/x.csv", dir);
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    const char *fields[] = {"plain", "a,b", "q\"q", "line\nbreak"};
    fputs("c0,c1,c2,c3\n", fp);
    for (int k = 0; k < 4; k++) {
        if (k)
            fputc(',', fp);
        lm_csv_write_field(fp, fields[k]);
    }
    fputc('\n', fp);
    fclose(fp);
    lm_csv csv;
    ck_assert_lm_ok(lm_csv_load(&csv, path));
    ck_assert_uint_eq(csv.n_rows, 1);
    for (int k = 0; k < 4; k++)
        ck_assert_str_eq(csv.cells[0][k], fields[k]);
    lm_csv_free(&csv);
    snprintf(path, sizeof path, "%s/absent.csv", dir);
    ck_assert_lm_status(lm_csv_load(&csv, path), LM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "absent.csv"));
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(reads_the_upstream_tables)
{
    lm_csv csv;
    ck_assert_lm_ok(lm_csv_load(&csv, lm_test_data_path(
        "upstream-kim23/mbv2_1.0/opt_time_fish_gpu1_1228.csv")));
    ck_assert_uint_eq(csv.n_rows, 171);
    size_t col = 0;
    ck_assert_lm_ok(lm_csv_column(&csv, "breaks", &col));
    ck_assert_str_eq(csv.cells[3][col], "0,1,2,4");
    lm_csv_free(&csv);
}
END_TEST

static Suite *csv_suite(void)
{
    Suite *s = suite_create("csv");
    TCase *tc = tcase_create("csv");
    tcase_add_test(tc, quoted_fields_keep_commas_and_quotes);
    tcase_add_test(tc, crlf_and_missing_final_newline);
    tcase_add_test(tc, wrong_field_count_names_the_line);
    tcase_add_test(tc, missing_column_is_named);
    tcase_add_test(tc, bad_numbers_name_line_and_column);
    tcase_add_test(tc, numbers_are_decimal_only);
    tcase_add_test(tc, nul_byte_is_refused_with_its_place);
    tcase_add_test(tc, duplicate_column_is_refused);
    tcase_add_test(tc, file_round_trip_with_written_fields);
    tcase_add_test(tc, reads_the_upstream_tables);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return lm_test_run(csv_suite());
}
