# A result asked for by name whose model this run's config does not name (a rerun command pasted
# without the run's --configfile): refused with the fix, where Snakemake would say only that no
# rule makes the file. The pattern matches no configured model, so no other rule's file.


rule unconfigured_model:
    input:
        refuse_unconfigured_model,
    output:
        "results/{kind}/{other_model}/{rest}",
    wildcard_constraints:
        kind="|".join(layout.MODEL_RESULT_KINDS),
        # any name but a configured model's; the lookahead ends at the name's "/"
        other_model="(?!(?:{})/)[^/]+".format("|".join(re.escape(m) for m in config["models"])),
        rest=".+",
    localrule: True
