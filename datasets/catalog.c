/* catalog.c: the pinned benchmark files, checking and fetching them. */
#include "catalog.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/fileio.h"
#include "common/hash.h"

extern const unsigned char bundled_gsm8k_cot_exemplars[];
extern const size_t bundled_gsm8k_cot_exemplars_len;
extern const unsigned char bundled_gsm8k_fewshot[];
extern const size_t bundled_gsm8k_fewshot_len;

#define GH "https://raw.githubusercontent.com/"
#define GSM8K GH "openai/grade-school-math/3101c7d5072418e28b9008a6636bde82a006892c/grade_school_math/data/"
#define BFCL GH "ShishirPatil/gorilla/6ea57973c7a6097fd7c5915698c54c17c5b1b6c8/berkeley-function-call-leaderboard/bfcl_eval/data/"
#define PUNKT GH "nltk/nltk_data/gh-pages/packages/tokenizers/punkt_tab.zip"

/* To add a file: its path under the data dir, the sha256 from its
 * PROVENANCE.md, the record count, and the upstream URL. */
static const catalog_file gsm8k_files[] = {
    {"gsm8k/test.jsonl", "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14", 1319, GSM8K "test.jsonl", NULL, "gsm8k/test.jsonl"},
    {"gsm8k/train.jsonl", "17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465", 7473, GSM8K "train.jsonl", NULL, "gsm8k/train.jsonl"},
    {"gsm8k/cot_exemplars.jsonl", "834e15ff15ab7058dfb6d1d928a6263a3637cfbf9a2f9240eea3753c2e3463c6", 8, NULL, NULL, NULL},
    {"gsm8k/fewshot_gsm8k_5shot_seed1234.jsonl", "1d8388d470722886c0ac8482fc8a07b0e75c6362a549513c97a860dff3696ce3", 1319, NULL, NULL, NULL},
};

static const catalog_file humaneval_files[] = {
    {"humaneval/HumanEval.jsonl.gz", "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef", 164,
     GH "openai/human-eval/6d43fb980f9fee3c892a914eda09951f772ad10d/data/HumanEval.jsonl.gz", NULL, "humaneval/HumanEval.jsonl.gz"},
};

static const catalog_file humanevalplus_files[] = {
    {"humanevalplus/HumanEvalPlus.jsonl.gz", "272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101", 164,
     "https://github.com/evalplus/humanevalplus_release/releases/download/v0.1.10/HumanEvalPlus.jsonl.gz", NULL, "humanevalplus/HumanEvalPlus.jsonl.gz"},
    {"humanevalplus/HumanEvalPlus-Mini.jsonl.gz", "91486741f1627101021fbe50523df08eebb5b0bf5e804b633dcd5ca3c14dbd2f", 164,
     "https://github.com/evalplus/humanevalplus_release/releases/download/v0.1.10/HumanEvalPlus-Mini.jsonl.gz", NULL, "humanevalplus/HumanEvalPlus-Mini.jsonl.gz"},
};

static const catalog_file mbppplus_files[] = {
    {"mbppplus/MbppPlus.jsonl.gz", "af43697e8791c4c149bdfd6b489d8b5412507551ac20e28a439f650b8225db63", 378,
     "https://github.com/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus.jsonl.gz", NULL, "mbppplus/MbppPlus.jsonl.gz"},
};

static const catalog_file mbpp_files[] = {
    {"mbpp/mbpp.jsonl", "ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f", 974,
     GH "google-research/google-research/master/mbpp/mbpp.jsonl", NULL, "mbpp/mbpp.jsonl"},
};

static const catalog_file ifeval_files[] = {
    {"ifeval/input_data.jsonl", "67ffeee0fcb87c317c5b08a2de85557b4a7e96ada6178aa645b4954fe4b53d49", 541,
     GH "google-research/google-research/master/instruction_following_eval/data/input_data.jsonl", NULL, "ifeval/input_data.jsonl"},
    {"ifeval/punkt_tab/english/abbrev_types.txt", "92a3e070f43d9b4c5534758ca40ad7343b04e7e29bfe0c2eb658a39445a4f779", 156,
     PUNKT, "punkt_tab/english/abbrev_types.txt", "ifeval/punkt_tab.zip"},
    {"ifeval/punkt_tab/english/collocations.tab", "8e2da1225e4dd2cc9dba261ee231ccb134859e21b46006e7f472c5ee269af0cf", 37,
     PUNKT, "punkt_tab/english/collocations.tab", "ifeval/punkt_tab.zip"},
    {"ifeval/punkt_tab/english/sent_starters.txt", "f3f8535483e1dba487241b764945168123bca3209a9645e59acd1225dc76edac", 39,
     PUNKT, "punkt_tab/english/sent_starters.txt", "ifeval/punkt_tab.zip"},
    {"ifeval/punkt_tab/english/ortho_context.tab", "4bbcca25ed3d3f06c02402abf8419b9f033b8adc06e7b482eca4e45f81a5dc4c", 20366,
     PUNKT, "punkt_tab/english/ortho_context.tab", "ifeval/punkt_tab.zip"},
};

#define BF(name, sha, n) {"bfcl/" name, sha, n, BFCL name, NULL, "bfcl/" name}
static const catalog_file bfcl_files[] = {
    BF("BFCL_v4_simple_python.json", "82dd63ba502eb2520c6b5d1d9a5c4b590e03ff261565175561f6228a367d1991", 400),
    BF("BFCL_v4_simple_java.json", "13d2303a125b08754f0e41995b9273b5005fa8ed8ebfaa24ef53b4d83c4b5c6e", 100),
    BF("BFCL_v4_simple_javascript.json", "329e67fedf79a6243d93dbda4b388d12bd2d31f1f2163d92cb6ef676d1764f44", 50),
    BF("BFCL_v4_multiple.json", "aef168155ebd74b7ac2401198b201343bc7d16d7a3d7e0d4e6d8ee82c6969b2a", 200),
    BF("BFCL_v4_parallel.json", "19f51a82eff42e5d62541aa500115a056eb78f437c2ba1f10415fd7c8e5dda84", 200),
    BF("BFCL_v4_parallel_multiple.json", "8863ea8433239f55c5f016154cf0830853c89f693c6ea270396a2fa121960579", 200),
    BF("BFCL_v4_irrelevance.json", "2b6ed4c2e992cdcf5f1678a701851f944bef7550ee026ed1ddb89efed5be01a6", 240),
    BF("BFCL_v4_live_simple.json", "1af2ac87dca47556db7b7e37e51e28b459a38b594e3c7b3c792b4903598ca0c4", 258),
    BF("BFCL_v4_live_multiple.json", "fd8ccfad4d911420d0e3341dbe2fff77d1d341da934248b9bb2bda24ab3a10c8", 1053),
    BF("BFCL_v4_live_parallel.json", "6c26e9fdc3350cf596e6d1ea9c179cbff834761bccf562f4141ed29a839ca421", 16),
    BF("BFCL_v4_live_parallel_multiple.json", "21d4b9319c1faac431e22757b367ea28917fe467364c3a4b17f16ec06d4f6e79", 24),
    BF("BFCL_v4_live_irrelevance.json", "6559fda2beaceb609a2cd2e504c65b4a56cb448e1ef88fddfd199e163d163349", 884),
    BF("BFCL_v4_live_relevance.json", "e03f9e241657a137cba48a89ee12f47bf3fcb7e4f6274263e9c699a0c974203a", 16),
    BF("BFCL_v4_multi_turn_base.json", "1a21a995d06fd6f20ba55de7bced30ef953ec35e998f502ec2ecf4d66ef1c43a", 200),
    BF("BFCL_v4_multi_turn_miss_func.json", "87d28ce10e37d864b72de85d5732eef2a867b241d6c1c99b4ae682c9e3ea921c", 200),
    BF("BFCL_v4_multi_turn_miss_param.json", "f0c66dda3795f5f53e3e1c0cc8ba0246b6761c8f58bdba8317203bf451ab8838", 200),
    BF("BFCL_v4_multi_turn_long_context.json", "78c3268c5cc8e97c0f4ec6c811b3b9a2bba14323b1830b7a874b06d822749324", 200),
    BF("possible_answer/BFCL_v4_simple_python.json", "90cd5bc653690ee8e459b5b3f3fc9458606f7f3fcbf795bb51b7dc581f8c86dc", 400),
    BF("possible_answer/BFCL_v4_simple_java.json", "78f25616084044fa05bbfcee68e03f6ececb222bdd5cb3b7783a675fb3366e35", 100),
    BF("possible_answer/BFCL_v4_simple_javascript.json", "e2f9f2e51d88e0c8056ffbf1a3dd3d02eb032532d2b5d98c9cc9003385bdd56b", 50),
    BF("possible_answer/BFCL_v4_multiple.json", "244e00ce9395df948bcafc7bee64e8f9c87ef70887587d83cae45b13699f3047", 200),
    BF("possible_answer/BFCL_v4_parallel.json", "8a6aa19c1adddc6a5a2f7e40f9dbf30cc7e95815e7b830c90589ab318229e0f0", 200),
    BF("possible_answer/BFCL_v4_parallel_multiple.json", "5ebf24f458c1f16300c05505d83d6f0a1b68b79be273a033febd0d4f840507e3", 200),
    BF("possible_answer/BFCL_v4_live_simple.json", "fec9cfa9744a936f9126981e85a2023da1e63e273eafebc81923a1162fad70ce", 258),
    BF("possible_answer/BFCL_v4_live_multiple.json", "97e90d59c5bd76c55a2920ce93e5566e9046307d3f558578f085f9d3a56c3084", 1053),
    BF("possible_answer/BFCL_v4_live_parallel.json", "8a9f189ff0e832ebbbbdade1fd95a7dbcc67406e9177df3f0aad76f59ab00350", 16),
    BF("possible_answer/BFCL_v4_live_parallel_multiple.json", "f5b5f360556c5feb51db46fb9f56ee4b304f4b45b161599bbb14161c98a2873f", 24),
    BF("possible_answer/BFCL_v4_multi_turn_base.json", "1fee67823b317571649177dd89d63969feaae4e810cc7448ee55ba797fb7c8fc", 200),
    BF("possible_answer/BFCL_v4_multi_turn_miss_func.json", "69e679b806d1c871b05393a4b95583bb973248e5b8d96c2d7f4ca05e29fc32e6", 200),
    BF("possible_answer/BFCL_v4_multi_turn_miss_param.json", "59c442901779e2c31c33abcd566d032e03736e5ad8069de2fe05489873046ecf", 200),
    BF("possible_answer/BFCL_v4_multi_turn_long_context.json", "e82aa0e839c39d23c64a05834f7ae024d7c9738ec21738ecee78dc876e3d0d18", 200),
    BF("multi_turn_func_doc/gorilla_file_system.json", "c4c1b741c71e2a17c97a5dc9c4a91d89978c4eaece56494d14272d5df6c650e9", 18),
    BF("multi_turn_func_doc/math_api.json", "83fa31708c89442bdcf12ac4dfbe3be8663ec9183a1b1524a9fda98164bc7e0b", 17),
    BF("multi_turn_func_doc/message_api.json", "4d58ea933a5d2b280d7a52366617fb47fecd333d7b0e08e724db6fa12fb5f847", 10),
    BF("multi_turn_func_doc/posting_api.json", "87f9fc404a06e4107d7c366f1399c596440e84c16cb119faf374b2f532d86e8b", 14),
    BF("multi_turn_func_doc/ticket_api.json", "31324e0380782664fe82ba05bd23517808ad55692b45a5fe7c3d4d395fe4f0f8", 9),
    BF("multi_turn_func_doc/trading_bot.json", "1a7933fd8f0cb8fbec38aeae05cb8c24132747cad4904fe1c13ac3d01fc22c2d", 20),
    BF("multi_turn_func_doc/travel_booking.json", "f17b950c13adddf41d0848077df58788252e4c2e7cad5cfa71c8c4bf04f57b26", 18),
    BF("multi_turn_func_doc/vehicle_control.json", "0c8a66292844874ef7b168f343bc394d8615d2d9e1f4387999a9ee23011eac78", 22),
};
#undef BF

#define N(a) (sizeof(a) / sizeof((a)[0]))
static const catalog_bench benches[] = {
    {"gsm8k", "GSM8K (OpenAI), with lm-eval's few-shot tables", "gsm8k gsm8k_cot gsm8k_cot_zeroshot gsm8k_cot_llama", gsm8k_files, N(gsm8k_files)},
    {"humaneval", "HumanEval (OpenAI)", "humaneval", humaneval_files, N(humaneval_files)},
    {"humanevalplus", "HumanEval+ v0.1.10 (EvalPlus)", "humanevalplus", humanevalplus_files, N(humanevalplus_files)},
    {"mbppplus", "MBPP+ v0.2.0 (EvalPlus)", "mbppplus", mbppplus_files, N(mbppplus_files)},
    {"mbpp", "MBPP, full original (Google)", "-", mbpp_files, N(mbpp_files)},
    {"ifeval", "IFEval (Google) and NLTK's English Punkt tables", "ifeval", ifeval_files, N(ifeval_files)},
    {"bfcl", "BFCL V4 (Berkeley), AST and multi-turn categories", "bfcl bfcl:CATEGORY", bfcl_files, N(bfcl_files)},
};

const catalog_bench *catalog_at(size_t i)
{
    return i < N(benches) ? &benches[i] : NULL;
}

const catalog_bench *catalog_find(const char *name)
{
    for (size_t i = 0; i < N(benches); i++)
        if (!strcmp(benches[i].name, name)) return &benches[i];
    return NULL;
}

const unsigned char *catalog_bundled(const catalog_file *f, size_t *len)
{
    if (!strcmp(f->rel, "gsm8k/cot_exemplars.jsonl")) {
        *len = bundled_gsm8k_cot_exemplars_len;
        return bundled_gsm8k_cot_exemplars;
    }
    if (!strcmp(f->rel, "gsm8k/fewshot_gsm8k_5shot_seed1234.jsonl")) {
        *len = bundled_gsm8k_fewshot_len;
        return bundled_gsm8k_fewshot;
    }
    return NULL;
}

/* Records: JSON lines (of a gzip file too), or lines of a table (no final newline needed). */
static long count_records(const buf *b)
{
    long n = 0;
    line_iter it = line_iter_start(b->data, b->len);
    const char *l;
    size_t len;
    while (line_iter_next(&it, &l, &len)) {
        size_t k = 0;
        while (k < len && (l[k] == ' ' || l[k] == '\r' || l[k] == '\t')) k++;
        if (k < len) n++;
    }
    return n;
}

int catalog_check(const char *data_dir, const catalog_file *f, catalog_status *st, err *e)
{
    memset(st, 0, sizeof *st);
    st->records = -1;
    buf p = BUF_INIT, data = BUF_INIT, plain = BUF_INIT;
    path_join(&p, data_dir, f->rel);
    int ret = 0;
    if (!file_exists(p.data)) goto out;
    st->found = true;
    if ((ret = file_read_all(p.data, &data, e)) < 0) goto out;
    sha256_hex(data.data, data.len, st->sha256);
    st->sha_ok = strcmp(st->sha256, f->sha256) == 0;
    if (f->records >= 0) {
        if (strlen(p.data) > 3 && !strcmp(p.data + strlen(p.data) - 3, ".gz")) {
            if (file_read_gz(p.data, &plain, NULL) == 0) st->records = count_records(&plain);
        } else {
            st->records = count_records(&data);
        }
    }
out:
    buf_release(&p);
    buf_release(&data);
    buf_release(&plain);
    return ret;
}

/* ---- fetching ---- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    buf *b = ud;
    return buf_append(b, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

static int download(const char *url, buf *out, err *e)
{
    CURL *c = curl_easy_init();
    if (!c) return err_set(e, ERR_NOMEM, "cannot start libcurl");
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "tally-datasets-fetch");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK)
        return err_set(e, ERR_IO, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    if (status != 200 && status != 0)
        return err_set(e, ERR_HTTP, "%s: HTTP %ld", url, status);
    return 0;
}

static uint32_t rd16(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t rd32(const unsigned char *p)
{
    return rd16(p) | rd16(p + 2) << 16;
}

/* Extracts one member of a zip archive held in memory (stored or deflated). */
static int zip_extract(const buf *zip, const char *member, const char *url, buf *out, err *e)
{
    const unsigned char *z = (const unsigned char *)zip->data;
    size_t n = zip->len;
    /* the end-of-central-directory record: last 22..65557 bytes */
    size_t eocd = SIZE_MAX;
    for (size_t i = n >= 22 ? n - 22 : 0; n >= 22; i--) {
        if (rd32(z + i) == 0x06054b50) {
            eocd = i;
            break;
        }
        if (i == 0 || n - i > 65557) break;
    }
    if (eocd == SIZE_MAX) return err_set(e, ERR_FORMAT, "%s: not a zip archive", url);
    uint32_t cd_size = rd32(z + eocd + 12), cd_off = rd32(z + eocd + 16);
    uint32_t count = rd16(z + eocd + 10);
    if ((size_t)cd_off + cd_size > n) return err_set(e, ERR_FORMAT, "%s: zip directory past the end", url);
    size_t p = cd_off, mlen = strlen(member);
    for (uint32_t k = 0; k < count; k++) {
        if (p + 46 > n || rd32(z + p) != 0x02014b50)
            return err_set(e, ERR_FORMAT, "%s: corrupt zip directory", url);
        uint32_t method = rd16(z + p + 10), csize = rd32(z + p + 20), usize = rd32(z + p + 24);
        uint32_t fnl = rd16(z + p + 28), exl = rd16(z + p + 30), cml = rd16(z + p + 32);
        uint32_t loff = rd32(z + p + 42);
        if (p + 46 + fnl > n) return err_set(e, ERR_FORMAT, "%s: corrupt zip directory", url);
        if (fnl == mlen && memcmp(z + p + 46, member, mlen) == 0) {
            if ((size_t)loff + 30 > n || rd32(z + loff) != 0x04034b50)
                return err_set(e, ERR_FORMAT, "%s: corrupt zip entry %s", url, member);
            size_t data = (size_t)loff + 30 + rd16(z + loff + 26) + rd16(z + loff + 28);
            if (data + csize > n) return err_set(e, ERR_FORMAT, "%s: zip entry %s past the end", url, member);
            if (method == 0) return buf_append(out, z + data, csize) == 0 ? 0 : err_set(e, ERR_NOMEM, "out of memory");
            if (method != 8) return err_set(e, ERR_UNSUPPORTED, "%s: zip method %u for %s", url, method, member);
            if (buf_reserve(out, usize) < 0) return err_set(e, ERR_NOMEM, "out of memory");
            z_stream zs;
            memset(&zs, 0, sizeof zs);
            if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return err_set(e, ERR_NOMEM, "cannot start zlib");
            zs.next_in = (unsigned char *)z + data;
            zs.avail_in = csize;
            zs.next_out = (unsigned char *)out->data + out->len;
            zs.avail_out = usize;
            int zr = inflate(&zs, Z_FINISH);
            inflateEnd(&zs);
            if (zr != Z_STREAM_END || zs.total_out != usize)
                return err_set(e, ERR_FORMAT, "%s: cannot inflate %s", url, member);
            out->len += usize;
            out->data[out->len] = 0;
            return 0;
        }
        p += 46 + fnl + exl + cml;
    }
    return err_set(e, ERR_NOTFOUND, "%s: the archive has no %s", url, member);
}

int catalog_fetch(const char *data_dir, const catalog_file *f, const char *mirror, err *e)
{
    buf dl = BUF_INIT, body = BUF_INIT, url = BUF_INIT, dest = BUF_INIT;
    int ret = 0;
    path_join(&dest, data_dir, f->rel);
    size_t blen = 0;
    const unsigned char *bundled = catalog_bundled(f, &blen);
    if (bundled) {
        buf_append(&body, bundled, blen);
    } else {
        if (mirror) path_join(&url, mirror, f->mirror_rel);
        else buf_puts(&url, f->url);
        buf_init(&dl, (size_t)1 << 31);
        if ((ret = download(url.data, &dl, e)) < 0) goto out;
        if (f->zip_member) {
            if ((ret = zip_extract(&dl, f->zip_member, url.data, &body, e)) < 0) goto out;
        } else {
            body = dl;
            dl = (buf)BUF_INIT;
        }
    }
    char hex[HASH_HEX_SIZE];
    sha256_hex(body.data, body.len, hex);
    if (strcmp(hex, f->sha256) != 0) {
        ret = err_set(e, ERR_CHECKSUM, "%s: sha256 %s does not match the pinned %s (from %s); nothing written",
                      f->rel, hex, f->sha256, bundled ? "the bundled copy" : url.data);
        goto out;
    }
    /* the directory of the destination, then an atomic write */
    char *slash = strrchr(dest.data, '/');
    if (slash) {
        *slash = 0;
        ret = dir_create(dest.data, e);
        *slash = '/';
        if (ret < 0) goto out;
    }
    ret = file_write_atomic(dest.data, body.data, body.len, e);
out:
    buf_release(&dl);
    buf_release(&body);
    buf_release(&url);
    buf_release(&dest);
    return ret;
}
