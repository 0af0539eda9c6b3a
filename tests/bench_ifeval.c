/* bench_ifeval.c: IFEval scoring speed on 541 generated model-style answers.
 *
 * For every prompt of input_data.jsonl an answer is generated
 * deterministically (a fixed seed): a few paragraphs of ordinary prose (in
 * the asked language where there is one) shaped to follow each instruction
 * with probability 3/4 and to break it otherwise, sometimes with a preamble
 * line, markdown or a reasoning block. Then, single-threaded:
 *   - the tables are loaded (Punkt, langdetect profiles), timed apart;
 *   - scoring as the task does it (strict, then loose variants until one passes);
 *   - every instruction against all 8 loose variants, timed per instruction id.
 * Prints figures; asserts nothing about time (meson test --benchmark).
 *
 *   bench_ifeval [--write-replay FILE] [--repeat N]
 * --write-replay writes the answers as a replay file ({"key", "response"}
 * lines) and exits: the end-to-end tests and agreement checks use it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "datasets/ifeval.h"
#include "scorers/ifeval/checkers.h"
#include "scorers/ifeval/ifeval.h"
#include "scorers/ifeval/ustr.h"

/* ------------------------------------------------------------ word pools */

static const char *const en_sentences[] = {
    "The city council met on Tuesday to discuss the new budget",
    "Many people enjoy walking in the park on a sunny afternoon",
    "A good night of sleep helps the brain store what it learned during the day",
    "The recipe calls for two cups of flour and a pinch of salt",
    "Our team finished the project two weeks ahead of schedule",
    "Rivers carry water from the mountains down to the sea",
    "She spent the summer volunteering at the local library",
    "Learning a new language takes patience and daily practice",
    "The museum opened a new exhibit about ancient trade routes",
    "Fresh vegetables taste best when they are picked in season",
    "The old bridge was repaired after the spring floods",
    "Children often ask questions that adults find surprisingly deep",
    "He bought a used bicycle and rode it to work every morning",
    "Solar panels turn sunlight into electricity without moving parts",
    "The orchestra rehearsed for months before the first concert",
    "A balanced breakfast gives you energy for the whole morning",
    "The company plans to hire more engineers next year",
    "Birds migrate south when the days grow shorter",
    "Reading before bed can help you relax after a long day",
    "The hiking trail winds through a quiet forest of tall pines",
    "Good writing is clear, simple and honest with the reader",
    "The startup raised money from investors in three countries",
    "Coffee prices rose sharply after a poor harvest in Brazil",
    "Regular exercise lowers the risk of many common diseases",
    "The teacher explained the idea with a simple drawing on the board",
    "Farmers in the valley grow apples, pears and cherries",
    "The new phone has a larger screen and a longer battery life",
    "Volunteers cleaned the beach and collected bags of plastic",
    "Most people check their email several times a day",
    "The film tells the story of a family that moves to a small town",
};

typedef struct lang_text {
    const char *code;
    const char *text; /* sentences separated by ". " or the script's stop */
} lang_text;

static const lang_text lang_texts[] = {
    {"ar", "مرحبا! اليوم أريد أن أحدثك عن مدينة القاهرة. إنها مدينة كبيرة ذات تاريخ طويل، وفيها "
           "الكثير من المتاحف والأسواق القديمة."},
    {"bg", "Здравейте! Днес искам да ви разкажа за София. Това е столицата на България, град с "
           "дълга история и красива природа наоколо."},
    {"bn", "নমস্কার! আজ আমি তোমাকে কলকাতা শহরের কথা বলতে চাই। এটি একটি বড় এবং ঐতিহাসিক শহর।"},
    {"de", "Die Sonne scheint heute besonders hell, und die Kinder spielen draußen im Garten. "
           "Später wollen wir gemeinsam ein Eis essen gehen."},
    {"fa", "سلام! امروز می‌خواهم درباره شهر تهران برای شما بنویسم. تهران پایتخت ایران است و "
           "جمعیت بسیار زیادی دارد."},
    {"fi", "Suomi on kaunis maa, jossa on tuhansia järviä ja laajoja metsiä. Talvella lunta on "
           "paljon, ja kesällä aurinko paistaa lähes koko yön."},
    {"gu", "નમસ્તે! આજે હું તમને અમદાવાદ વિશે જણાવવા માંગુ છું. આ ગુજરાતનું એક મોટું અને ઐતિહાસિક શહેર છે."},
    {"hi", "नमस्ते! आज मैं आपको दिल्ली के बारे में बताना चाहता हूँ। यह भारत की राजधानी है और यहाँ कई ऐतिहासिक "
           "इमारतें हैं।"},
    {"it", "Ciao! Oggi vorrei parlarti della cucina italiana. La pasta è uno dei piatti più famosi "
           "al mondo, e ogni regione ha le sue ricette tradizionali."},
    {"kn", "ನಮಸ್ಕಾರ! ಇಂದು ನಾನು ನಿಮಗೆ ಬೆಂಗಳೂರಿನ ಬಗ್ಗೆ ಹೇಳಲು ಬಯಸುತ್ತೇನೆ. ಇದು ಕರ್ನಾಟಕದ ರಾಜಧಾನಿ."},
    {"ko", "안녕하세요! 오늘은 서울에 대해 이야기하고 싶습니다. 서울은 한국의 수도이며 역사와 "
           "현대가 어우러진 도시입니다."},
    {"mr", "नमस्कार! आज मी तुम्हाला पुण्याबद्दल सांगणार आहे. हे महाराष्ट्रातील एक मोठे आणि ऐतिहासिक शहर आहे."},
    {"ne", "नमस्ते! आज म तपाईंलाई काठमाडौंको बारेमा बताउन चाहन्छु। यो नेपालको राजधानी हो र यहाँ धेरै पुराना "
           "मन्दिरहरू छन्।"},
    {"pa", "ਸਤ ਸ੍ਰੀ ਅਕਾਲ! ਅੱਜ ਮੈਂ ਤੁਹਾਨੂੰ ਅੰਮ੍ਰਿਤਸਰ ਬਾਰੇ ਦੱਸਣਾ ਚਾਹੁੰਦਾ ਹਾਂ। ਇਹ ਪੰਜਾਬ ਦਾ ਇੱਕ ਮਸ਼ਹੂਰ ਸ਼ਹਿਰ ਹੈ।"},
    {"pt", "Olá! Hoje vou falar sobre a importância da leitura. Ler todos os dias ajuda a "
           "desenvolver o vocabulário e a imaginação das crianças."},
    {"ru", "Привет! Сегодня я хочу рассказать тебе о Москве. Это огромный город с богатой "
           "историей, красивыми парками и множеством музеев."},
    {"sw", "Habari yako? Leo nataka kukueleza kuhusu maisha ya kijijini. Watu wengi hulima "
           "mashamba yao na kufuga mifugo kama ng'ombe na mbuzi."},
    {"ta",
     "வணக்கம்! இன்று நான் உங்களுக்கு சென்னை நகரத்தைப் பற்றி சொல்ல விரும்புகிறேன். இது தமிழ்நாட்டின் தலைநகரம்."},
    {"te", "నమస్కారం! ఈ రోజు నేను మీకు హైదరాబాద్ గురించి చెప్పాలనుకుంటున్నాను. ఇది తెలంగాణ రాజధాని."},
    {"th",
     "สวัสดีครับ วันนี้ผมอยากเล่าเรื่องกรุงเทพมหานครให้ฟัง เมืองนี้เป็นเมืองหลวงของประเทศไทยและมีวัดสวยงามมากมาย"},
    {"ur", "السلام علیکم! آج میں آپ کو لاہور کے بارے میں بتانا چاہتا ہوں۔ یہ پاکستان کا ایک بڑا "
           "اور تاریخی شہر ہے۔"},
    {"vi", "Xin chào! Hôm nay tôi muốn giới thiệu về thành phố Hà Nội. Đây là thủ đô của Việt Nam, "
           "nổi tiếng với hồ Hoàn Kiếm và phố cổ."},
};

/* ------------------------------------------------------------- generator */

typedef struct gen {
    rng r;
    const ifeval_record *rec;
    bool follow[8]; /* per instruction */
} gen;

static bool chance(gen *g, double p)
{
    return rng_uniform(&g->r) < p;
}

static size_t pick(gen *g, size_t n)
{
    return (size_t)(rng_next(&g->r) % n);
}

/* The kwargs of the first instruction with this id, and whether to follow it. */
static const ifeval_kwargs *want(const gen *g, const char *id, bool *follow)
{
    for (size_t k = 0; k < g->rec->n; k++)
        if (strcmp(g->rec->ids[k], id) == 0) {
            if (follow) *follow = g->follow[k];
            return &g->rec->kwargs[k];
        }
    return NULL;
}

/* A count that meets (follow) or misses the relation. */
static long count_for(int rel, long n, bool follow)
{
    if (rel == IFEVAL_REL_LESS_THAN) return follow ? (n > 1 ? n - 1 : 0) : n + 1;
    return follow ? n + 1 : (n > 0 ? n - 1 : 0);
}

static void sentence(gen *g, const char *lang, buf *out)
{
    if (lang) {
        for (size_t i = 0; i < sizeof lang_texts / sizeof lang_texts[0]; i++)
            if (strcmp(lang_texts[i].code, lang) == 0) {
                buf_puts(out, lang_texts[i].text);
                return;
            }
    }
    buf_puts(out, en_sentences[pick(g, sizeof en_sentences / sizeof en_sentences[0])]);
    buf_puts(out, chance(g, 0.1) ? "!" : ".");
}

/* The answer to one prompt. */
static void generate(gen *g, buf *out)
{
    const ifeval_kwargs *kw;
    bool f = true;
    buf body = BUF_INIT;
    const char *lang = NULL;
    if ((kw = want(g, "language:response_language", &f)) && f) lang = kw->language;
    /* shape: paragraphs and sentences */
    long paragraphs = 1 + (long)pick(g, 4), sentences = paragraphs * (1 + (long)pick(g, 3));
    const char *sep = "\n\n";
    if ((kw = want(g, "length_constraints:number_paragraphs", &f))) {
        paragraphs = f ? kw->num_paragraphs : kw->num_paragraphs + 1;
        sep = "\n\n***\n\n";
    }
    long nth = 0;
    const char *first_word = NULL;
    if ((kw = want(g, "length_constraints:nth_paragraph_first_word", &f))) {
        paragraphs = kw->num_paragraphs;
        nth = kw->nth_paragraph;
        first_word = f ? kw->first_word : "Meanwhile";
    }
    const char *spliter = NULL;
    if ((kw = want(g, "detectable_format:multiple_sections", &f))) {
        spliter = kw->section_spliter;
        paragraphs = f ? kw->num_sections : (kw->num_sections > 1 ? kw->num_sections - 1 : 1);
    }
    if ((kw = want(g, "length_constraints:number_sentences", &f)))
        sentences = count_for(kw->relation, kw->num_sentences, f);
    if (paragraphs < 1) paragraphs = 1;
    if (sentences < paragraphs) sentences = paragraphs;
    long words_target = -1;
    if ((kw = want(g, "length_constraints:number_words", &f)))
        words_target = count_for(kw->relation, kw->num_words, f);
    for (long p = 0; p < paragraphs; p++) {
        if (p) buf_puts(&body, sep);
        if (spliter) buf_printf(&body, "%s %ld\n", spliter, p + 1);
        if (first_word && p + 1 == nth) buf_printf(&body, "%s ", first_word);
        long in_p = sentences / paragraphs + (p < sentences % paragraphs);
        for (long s = 0; s < in_p; s++) {
            if (s) buf_putc(&body, ' ');
            sentence(g, lang, &body);
        }
    }
    /* words: add or cut whole words at the end */
    if (words_target >= 0) {
        while ((long)ustr_count_words(body.data, body.len) < words_target) {
            buf_putc(&body, ' ');
            sentence(g, lang, &body);
        }
        while ((long)ustr_count_words(body.data, body.len) >= words_target && body.len) {
            char *sp = memrchr(body.data, ' ', body.len);
            if (!sp) break;
            buf_truncate(&body, (size_t)(sp - body.data));
            if ((long)ustr_count_words(body.data, body.len) < words_target) break;
        }
        if (words_target > 0 &&
            want(g, "length_constraints:number_words", NULL)->relation == IFEVAL_REL_AT_LEAST)
            buf_puts(&body, " and more words to reach the goal.");
    }
    /* insertions */
    if ((kw = want(g, "keywords:existence", &f)))
        for (size_t i = 0; i < kw->n_keywords; i++)
            if (f || i) buf_printf(&body, " This also touches on %s.", kw->keywords[i]);
    if ((kw = want(g, "keywords:frequency", &f))) {
        long k = count_for(kw->relation, kw->frequency, f);
        for (long i = 0; i < k; i++) buf_printf(&body, " %s", kw->keyword);
        buf_putc(&body, '.');
    }
    if ((kw = want(g, "keywords:forbidden_words", &f)) && !f && kw->n_forbidden_words)
        buf_printf(&body, " Some would call it %s.", kw->forbidden_words[0]);
    if ((kw = want(g, "keywords:letter_frequency", &f))) {
        long k = count_for(kw->let_relation, kw->let_frequency, f);
        buf_puts(&body, "\n\n");
        for (long i = 0; i < k && i < 200; i++) buf_puts(&body, kw->letter);
    }
    if ((kw = want(g, "detectable_content:number_placeholders", &f))) {
        long k = f ? kw->num_placeholders : kw->num_placeholders - 1;
        for (long i = 0; i < k; i++) buf_printf(&body, " [placeholder %ld]", i + 1);
    }
    if ((kw = want(g, "detectable_format:number_highlighted_sections", &f))) {
        long k = f ? kw->num_highlights : kw->num_highlights - 1;
        buf_puts(&body, "\n\n");
        for (long i = 0; i < k; i++) buf_printf(&body, "*highlighted part %ld* ", i + 1);
    }
    if ((kw = want(g, "detectable_format:number_bullet_lists", &f))) {
        long k = f ? kw->num_bullets : kw->num_bullets + 1;
        buf_puts(&body, "\n");
        for (long i = 0; i < k; i++)
            buf_printf(&body, "\n%s Point number %ld", i % 2 ? "-" : "*", i + 1);
    }
    if ((kw = want(g, "change_case:capital_word_frequency", &f))) {
        long k = count_for(kw->capital_relation, kw->capital_frequency, f);
        buf_puts(&body, "\n\n");
        for (long i = 0; i < k; i++) buf_puts(&body, i % 3 ? "VERY " : "IMPORTANT ");
    }
    if (want(g, "detectable_format:constrained_response", &f))
        buf_puts(&body, f ? "\n\nMy answer is yes." : "\n\nMy answer is probably yes.");
    if (want(g, "combination:two_responses", &f)) {
        buf copy = BUF_INIT;
        buf_append(&copy, body.data, body.len);
        buf_puts(&body, f ? "\n******\nAnother take: " : "\n\nAnother take: ");
        buf_append(&body, copy.data, copy.len);
        buf_release(&copy);
    }
    if ((kw = want(g, "detectable_content:postscript", &f)))
        buf_printf(&body, "\n\n%s Thanks for reading.", f ? kw->postscript_marker : "Note:");
    if ((kw = want(g, "startend:end_checker", &f)) && f) buf_printf(&body, "\n%s", kw->end_phrase);
    /* wrappers */
    buf_reset(out);
    if ((kw = want(g, "combination:repeat_prompt", &f)) && f)
        buf_printf(out, "%s\n", kw->prompt_to_repeat);
    else if (chance(g, 0.25))
        buf_puts(out, chance(g, 0.5) ? "Sure! Here is my answer:\n" : "**Answer**\n");
    if (want(g, "detectable_format:title", &f) && f) buf_puts(out, "<<A Fitting Title>>\n\n");
    buf_append(out, body.data, body.len);
    if (want(g, "detectable_format:json_format", &f)) {
        buf j = BUF_INIT;
        buf_puts(&j, f ? "```json\n{\"answer\": " : "Here it is: {answer: ");
        json_append_str(&j, out->data, out->len);
        buf_puts(&j, f ? "}\n```" : "}");
        buf_reset(out);
        buf_append(out, j.data, j.len);
        buf_release(&j);
    }
    if (want(g, "startend:quotation", &f) && f) {
        buf q = BUF_INIT;
        buf_printf(&q, "\"%s\"", out->data);
        buf_reset(out);
        buf_append(out, q.data, q.len);
        buf_release(&q);
    }
    if (want(g, "punctuation:no_comma", &f)) {
        if (f) {
            size_t w = 0;
            for (size_t i = 0; i < out->len; i++)
                if (out->data[i] != ',') out->data[w++] = out->data[i];
            buf_truncate(out, w);
        } else
            buf_puts(out, " Well, that is all.");
    }
    if (want(g, "change_case:english_capital", &f) ||
        want(g, "change_case:english_lowercase", &f)) {
        bool upper = want(g, "change_case:english_capital", &f) != NULL;
        buf c = BUF_INIT;
        for (size_t i = 0; i < out->len; i++) {
            char ch = out->data[i];
            if (f && upper && ch >= 'a' && ch <= 'z') ch -= 32;
            if (f && !upper && ch >= 'A' && ch <= 'Z') ch += 32;
            buf_putc(&c, ch);
        }
        buf_reset(out);
        buf_append(out, c.data, c.len);
        buf_release(&c);
    }
    if (chance(g, 0.04)) {
        buf t = BUF_INIT;
        buf_printf(&t, "<think>The user wants %zu things, let me plan.</think>\n\n%s", g->rec->n,
                   out->data);
        buf_reset(out);
        buf_append(out, t.data, t.len);
        buf_release(&t);
    }
    buf_release(&body);
}

/* -------------------------------------------------------------- timing */

static double now_s(void)
{
    return time_now_s();
}

int main(int argc, char **argv)
{
    const char *replay = NULL;
    int repeat = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--write-replay") && i + 1 < argc)
            replay = argv[++i];
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_ifeval [--write-replay FILE] [--repeat N]\n");
            return 2;
        }
    }
    const char *data = getenv("TALLY_DATA");
    task_options o;
    task_options_default(&o);
    o.data_dir = data ? data : "../shared/datasets";
    o.langdetect_dir = getenv("TALLY_LANGDETECT_PROFILES");
    arena a = ARENA_INIT;
    item_set set;
    err e = ERR_INIT;
    if (ifeval_load(&o, NULL, &a, &set, &e) < 0) {
        fprintf(stderr, "bench_ifeval: %s\n", e.msg);
        return 1;
    }
    /* the answers */
    char **answers = calloc(set.n, sizeof *answers);
    buf tmp = BUF_INIT;
    size_t bytes = 0;
    for (size_t i = 0; i < set.n; i++) {
        gen g;
        rng_seed(&g.r, 20261122u + i);
        g.rec = set.items[i].data;
        for (size_t k = 0; k < g.rec->n && k < 8; k++) g.follow[k] = chance(&g, 0.75);
        generate(&g, &tmp);
        if (chance(&g, 0.01)) buf_reset(&tmp); /* now and then an empty answer */
        answers[i] = strdup(tmp.data);
        bytes += tmp.len;
    }
    if (replay) {
        FILE *f = fopen(replay, "w");
        if (!f) {
            perror(replay);
            return 1;
        }
        for (size_t i = 0; i < set.n; i++) {
            const ifeval_record *r = set.items[i].data;
            buf_reset(&tmp);
            buf_printf(&tmp, "{\"key\": %ld, \"response\": ", r->key);
            json_append_str(&tmp, answers[i], strlen(answers[i]));
            buf_puts(&tmp, "}\n");
            fputs(tmp.data, f);
        }
        fclose(f);
        return 0;
    }
    printf("IFEval scoring benchmark: %zu answers, %zu bytes (%.0f per answer), one thread\n",
           set.n, bytes, (double)bytes / (double)set.n);
    printf("(the machine may be shared: compare figures within one run)\n");

    /* 1. the tables, loaded once */
    ifeval_settings st;
    ifeval_settings_default(&st);
    st.data_dir = o.data_dir;
    st.langdetect_dir = o.langdetect_dir;
    ifeval_env *env = NULL;
    double t0 = now_s();
    if (ifeval_env_open(&env, &st, &e) < 0) {
        fprintf(stderr, "bench_ifeval: %s\n", e.msg);
        return 1;
    }
    ifeval_response resp = IFEVAL_RESPONSE_INIT;
    {
        /* one language check and one sentence count load the tables */
        ifeval_kwargs kw;
        memset(&kw, 0, sizeof kw);
        kw.present = 1u << IFEVAL_KW_LANGUAGE;
        kw.language = "en";
        ifeval_inst in;
        ifeval_verdict v;
        ifeval_response_set(&resp, "Hello world. Bye.", 17, &e);
        ifeval_inst_build(env, "language:response_language", &kw, NULL, &in, &e);
        ifeval_inst_eval(env, &in, &resp, false, &v, &e);
        ifeval_inst_release(&in);
        kw.present = 1u << IFEVAL_KW_NUM_SENTENCES | 1u << IFEVAL_KW_RELATION;
        kw.num_sentences = 2;
        kw.relation = IFEVAL_REL_AT_LEAST;
        ifeval_inst_build(env, "length_constraints:number_sentences", &kw, NULL, &in, &e);
        ifeval_inst_eval(env, &in, &resp, false, &v, &e);
        ifeval_inst_release(&in);
    }
    double t_load = now_s() - t0;
    printf("  load Punkt tables + langdetect profiles: %8.1f ms\n", t_load * 1e3);

    /* 2. the task's scorer, as `tally run` calls it (loads its own tables) */
    sample_view *views = calloc(set.n, sizeof *views);
    score_record *recs = calloc(set.n, sizeof *recs);
    for (size_t i = 0; i < set.n; i++) {
        views[i].it = &set.items[i];
        views[i].completion = answers[i];
        views[i].finish_reason = "stop";
    }
    for (int rep = 0; rep < repeat; rep++) {
        score_ctx c = {&o, NULL, &a, NULL};
        t0 = now_s();
        if (ifeval_score(&c, views, set.n, recs, &e) < 0) {
            fprintf(stderr, "bench_ifeval: %s\n", e.msg);
            return 1;
        }
        double t = now_s() - t0;
        size_t ok = 0;
        for (size_t i = 0; i < set.n; i++) {
            ok += recs[i].outcome == OUTCOME_CORRECT;
            score_record_release(&recs[i]);
        }
        printf("  ifeval_score, 541 answers (tables included): %8.1f ms   prompt_strict %zu/%zu\n",
               t * 1e3, ok, set.n);
    }

    /* 3. every instruction on all 8 variants, per instruction id */
    size_t n_ids = 0;
    while (ifeval_checker_at(n_ids)) n_ids++;
    double *per_id = calloc(n_ids, sizeof *per_id);
    size_t *calls = calloc(n_ids, sizeof *calls);
    for (int rep = 0; rep < repeat; rep++) {
        memset(per_id, 0, n_ids * sizeof *per_id);
        memset(calls, 0, n_ids * sizeof *calls);
        double total = 0, variants_s = 0;
        size_t followed_s = 0, followed_l = 0, insts = 0;
        for (size_t i = 0; i < set.n; i++) {
            const ifeval_record *r = set.items[i].data;
            buf_reset(&tmp);
            int think = ifeval_strip_think(answers[i], strlen(answers[i]), &tmp);
            (void)think;
            double tv = now_s();
            ifeval_response_set(&resp, tmp.data, tmp.len, &e);
            variants_s += now_s() - tv;
            for (size_t k = 0; k < r->n; k++) {
                ifeval_inst in;
                ifeval_verdict v;
                size_t d = 0;
                while (strcmp(ifeval_checker_at(d)->id, r->ids[k]) != 0) d++;
                double ti = now_s();
                if (ifeval_inst_build(env, r->ids[k], &r->kwargs[k], r->prompt, &in, &e) < 0 ||
                    ifeval_inst_eval(env, &in, &resp, true, &v, &e) < 0) {
                    fprintf(stderr, "bench_ifeval: %s\n", e.msg);
                    return 1;
                }
                ifeval_inst_release(&in);
                double dt = now_s() - ti;
                per_id[d] += dt;
                calls[d]++;
                total += dt;
                followed_s += v.strict;
                followed_l += v.loose;
                insts++;
            }
        }
        printf("  all 8 variants of every instruction: %8.1f ms (variants built in %.1f ms)   "
               "inst_strict %zu/%zu, inst_loose %zu/%zu\n",
               (total + variants_s) * 1e3, variants_s * 1e3, followed_s, insts, followed_l, insts);
    }
    printf("  per instruction id (last run, all 8 variants):\n");
    for (size_t d = 0; d < n_ids; d++)
        if (calls[d])
            printf("    %-48s %4zu x %8.3f ms = %7.2f ms\n", ifeval_checker_at(d)->id, calls[d],
                   per_id[d] * 1e3 / (double)calls[d], per_id[d] * 1e3);
    ifeval_response_release(&resp);
    ifeval_env_close(env);
    for (size_t i = 0; i < set.n; i++) free(answers[i]);
    free(answers);
    free(views);
    free(recs);
    free(per_id);
    free(calls);
    buf_release(&tmp);
    arena_release(&a);
    return 0;
}
